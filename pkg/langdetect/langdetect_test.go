package langdetect

import "testing"

// Real chat openings, as visitors write them: short, informal, with typos
// and without capitals or accents now and then.
func TestDetectsChatMessages(t *testing.T) {
	for _, tc := range []struct{ want, text string }{
		{"en", "Hi, I need help with my order, it hasn't arrived yet"},
		{"en", "hello can you tell me where my package is please"},
		{"fr", "Bonjour, je voudrais savoir où est ma commande"},
		{"fr", "salut j'ai un problème avec mon compte, vous pouvez m'aider ?"},
		{"de", "Hallo, ich habe ein Problem mit meiner Bestellung"},
		{"de", "Guten Tag, wie kann ich mein Passwort ändern? Danke"},
		{"es", "Hola, necesito ayuda con mi pedido por favor"},
		{"es", "¿Cuánto cuesta el plan anual? Gracias"},
		{"it", "Ciao, vorrei sapere quando arriva il mio ordine"},
		{"it", "Buongiorno, non riesco ad accedere al mio conto, potete aiutarmi?"},
		{"pt", "Olá, preciso de ajuda com o meu pedido, não chegou"},
		{"pt", "oi, quanto custa o plano? obrigado"},
		{"nl", "Hallo, ik heb een probleem met mijn bestelling"},
		{"nl", "Hoi, wanneer wordt mijn pakket geleverd? Bedankt"},
		{"pl", "Dzień dobry, mam problem z moim zamówieniem"},
		{"sv", "Hej, jag behöver hjälp med min beställning, tack"},
		{"tr", "Merhaba, siparişim ile ilgili bir sorun var, yardım lütfen"},
		{"ru", "Здравствуйте, у меня проблема с заказом"},
		{"uk", "Добрий день, у мене є питання щодо замовлення"},
		{"el", "Γεια σας, έχω ένα πρόβλημα με την παραγγελία μου"},
		{"ar", "مرحبا، لدي مشكلة في طلبي"},
		{"fa", "سلام، من یک مشکل با سفارشم دارم. چطور می‌توانم پیگیری کنم؟"},
		{"he", "שלום, יש לי בעיה עם ההזמנה שלי"},
		{"ja", "こんにちは、注文について質問があります"},
		{"zh", "你好，我的订单还没有到，请帮我查一下"},
		{"ko", "안녕하세요, 주문에 문제가 있습니다"},
		{"th", "สวัสดีครับ ฉันมีปัญหาเกี่ยวกับคำสั่งซื้อ"},
		{"hi", "नमस्ते, मुझे अपने ऑर्डर में मदद चाहिए"},
		// Support requests without greetings.
		{"en", "I want to cancel my subscription"},
		{"es", "Necesito cambiar la dirección de envío"},
		{"es", "tengo una pregunta"},
		{"pt", "Preciso mudar o endereço de entrega"},
		{"it", "Devo cambiare l'indirizzo di consegna"},
		{"fr", "Je veux annuler mon abonnement"},
		{"de", "Ich möchte mein Abo kündigen"},
		{"sv", "Kan jag få en faktura?"},
		{"nl", "Ik wil mijn abonnement opzeggen"},
		{"pl", "Chcę anulować subskrypcję"},
		{"tr", "Aboneliğimi iptal etmek istiyorum"},
		{"en", "my name is Jose de la Cruz and I have a question"},
	} {
		got, ok := Detect(tc.text)
		if !ok || got.Language != tc.want {
			t.Errorf("Detect(%q) = %q, %v (%s); want %q", tc.text, got.Language, ok, got.Reason, tc.want)
			continue
		}
		if got.Reason == "" {
			t.Errorf("Detect(%q): no reason", tc.text)
		}
	}
}

// Too little to go on, or two languages at once: no guess, so routing
// keeps waiting for more messages instead of sending the visitor to the
// wrong agent.
func TestUnsureAnswersNothing(t *testing.T) {
	for _, text := range []string{
		"",
		"ok",
		"??? 123",
		"Order #4411",
		"hi",
		"https://example.com/p/9",
		"hola hello",
		"merci thanks",
		"ЖЖ", // too few letters of a script
	} {
		if got, ok := Detect(text); ok {
			t.Errorf("Detect(%q) = %q (%s); want no guess", text, got.Language, got.Reason)
		}
	}
}

func TestEveryListedLanguageHasAName(t *testing.T) {
	for _, ws := range words {
		for _, l := range ws {
			if Name(l) == l {
				t.Errorf("language %q of words.txt has no name", l)
			}
		}
	}
	if len(Languages()) != len(names) {
		t.Fatal("Languages() does not list every language")
	}
}

func BenchmarkDetect(b *testing.B) {
	text := "Bonjour, je voudrais savoir où est ma commande, elle n'est toujours pas arrivée"
	for b.Loop() {
		Detect(text)
	}
}
