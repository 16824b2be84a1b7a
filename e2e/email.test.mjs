// Email, as an admin sets it up and a visitor uses it: the admin points
// Parley at an SMTP server in the Email screen and sends a test mail; a
// visitor leaves an offline message, which reaches the team by mail; the
// admin answers in the dashboard and the answer reaches the visitor by
// mail; the visitor answers that mail and the answer shows up in the
// conversation. The SMTP server is a real one on loopback (below), and the
// visitor's answer goes through Parley's own SMTP listener.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { join } from "node:path";
import { setUp, signInAgent, bodies, eventually, freePort, widget, send } from "./harness.mjs";

const e2e = setUp();

async function shot(page, name) {
  if (process.env.PARLEY_SHOTS) await page.screenshot({ path: join(process.env.PARLEY_SHOTS, name + ".png") });
}

/** smtpServer is a small SMTP server on 127.0.0.1 that keeps every mail. */
async function smtpServer() {
  const mails = [];
  const srv = net.createServer((sock) => {
    let buf = "";
    let data = null;
    let mail = { from: "", to: [] };
    sock.write("220 mail.test ESMTP\r\n");
    sock.on("data", (chunk) => {
      buf += chunk.toString("utf8");
      for (;;) {
        if (data !== null) {
          const end = buf.indexOf("\r\n.\r\n");
          if (end < 0) return;
          data += buf.slice(0, end);
          buf = buf.slice(end + 5);
          mails.push({ ...mail, raw: data.replace(/^\.\./gm, ".") });
          mail = { from: "", to: [] };
          data = null;
          sock.write("250 2.0.0 queued\r\n");
          continue;
        }
        const nl = buf.indexOf("\r\n");
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") sock.write("250-mail.test\r\n250 8BITMIME\r\n");
        else if (verb === "HELO") sock.write("250 mail.test\r\n");
        else if (verb === "MAIL") (mail.from = line.match(/<(.*)>/)?.[1] ?? ""), sock.write("250 ok\r\n");
        else if (verb === "RCPT") mail.to.push(line.match(/<(.*)>/)?.[1] ?? ""), sock.write("250 ok\r\n");
        else if (verb === "DATA") (data = ""), sock.write("354 go ahead\r\n");
        else if (verb === "QUIT") sock.end("221 bye\r\n");
        else sock.write("250 ok\r\n"); // RSET, NOOP
      }
    });
    sock.on("error", () => {});
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { port: srv.address().port, mails, close: () => new Promise((r) => srv.close(r)) };
}

/** sendMail speaks SMTP as a visitor's mail program does, and returns the
 * server's last reply line. */
async function sendMail(port, from, to, raw) {
  const sock = net.connect(port, "127.0.0.1");
  let buf = "";
  const waiters = [];
  sock.on("data", (d) => {
    buf += d.toString("utf8");
    let nl;
    while ((nl = buf.indexOf("\r\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      if (line[3] !== "-") waiters.shift()?.(line);
    }
  });
  const reply = () => new Promise((r) => waiters.push(r));
  const say = async (cmd) => {
    const p = reply();
    sock.write(cmd + "\r\n");
    return p;
  };
  let last = await reply();
  for (const cmd of ["EHLO visitor.test", `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, "DATA"]) {
    last = await say(cmd);
    if (!/^[23]/.test(last)) break;
  }
  if (last.startsWith("354")) last = await say(raw.replace(/\n/g, "\r\n").replace(/^\./gm, "..") + "\r\n.");
  sock.end("QUIT\r\n");
  return last;
}

const header = (raw, name) => raw.match(new RegExp(`^${name}: (.*)$`, "mi"))?.[1]?.trim() ?? "";
const text = (raw) =>
  raw
    .slice(raw.indexOf("\r\n\r\n") + 4)
    .replace(/=\r\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));

test("an admin sets up email; an offline message, the answer and the visitor's emailed reply make one conversation", async () => {
  const smtp = await smtpServer();
  const inbound = await freePort();
  const s = await e2e.server({
    env: { PARLEY_MAIL_DELAY: "0s", PARLEY_REPLY_DOMAIN: "reply.parley.test", PARLEY_SMTP_LISTEN: `127.0.0.1:${inbound}` },
  });
  try {
    const admin = await signInAgent(e2e.browser, s.url);
    await admin.getByRole("button", { name: "Email", exact: true }).click();
    const dialog = admin.getByRole("dialog", { name: "Email" });
    await dialog.getByText("Nothing sent yet.").waitFor();
    await dialog.locator("[data-testid=smtp-host]").fill("127.0.0.1");
    await dialog.getByLabel("Port", { exact: true }).fill(String(smtp.port));
    await dialog.locator("[data-testid=smtp-security]").selectOption("none");
    await dialog.getByLabel("From address").fill("support@acme.test");
    await dialog.getByLabel("From name").fill("Acme Support");
    await dialog.getByLabel(/Tell about offline messages/).fill("team@acme.test");
    await dialog.getByLabel(/Send email/).check();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByText("Saved. Email is on.").waitFor();
    await dialog.getByText(/replies come back through reply\.parley\.test/).waitFor();
    await dialog.getByLabel("Send a test mail to").fill("admin@acme.test");
    await dialog.getByRole("button", { name: "Send a test mail" }).click();
    await dialog.getByText("The SMTP server took the test mail to admin@acme.test.").waitFor();
    assert.deepEqual(smtp.mails.map((m) => m.to), [["admin@acme.test"]]);
    await shot(admin, "email-settings");
    await dialog.getByRole("button", { name: "Close" }).first().click();

    // Nobody is available: the visitor leaves a message.
    await admin.locator("[data-testid=status]").selectOption("away");
    const v = await widget(e2e.browser, s.url);
    await v.frame.getByLabel("Your name").fill("Ana");
    await v.frame.getByLabel("Your email").fill("ana@example.test");
    await v.frame.getByLabel("Your message").fill("Do you ship to Lisbon?");
    await v.frame.getByRole("button", { name: "Send message" }).click();
    await v.frame.locator("[data-testid=offline-thanks]").waitFor();
    await v.ctx.close(); // she leaves the site
    const team = await eventually(() => smtp.mails.find((m) => m.to.includes("team@acme.test")), { what: "the team's mail" });
    assert.match(text(team.raw), /Do you ship to Lisbon\?/);
    assert.match(header(team.raw, "Subject"), /Offline message from Ana/);

    // The admin answers in the dashboard; it reaches Ana by mail.
    await admin.locator("[data-testid=inbox-item]").first().click();
    await eventually(async () => (await bodies(admin)).includes("Do you ship to Lisbon?"), { what: "the offline message in the dashboard" });
    await send(admin, "Yes, we ship to Lisbon in 3 days.");
    const answer = await eventually(() => smtp.mails.find((m) => m.to.includes("ana@example.test")), { what: "the mail to the visitor" });
    assert.match(text(answer.raw), /Yes, we ship to Lisbon in 3 days\./);
    assert.equal(answer.from, "support@acme.test");
    const replyTo = header(answer.raw, "Reply-To");
    assert.match(replyTo, /^r-[0-9a-f]{32}-[a-z2-7]{16}@reply\.parley\.test$/);

    // Ana answers the mail; the answer lands in the conversation.
    const reply = `From: Ana <ana@example.test>\nTo: ${replyTo}\nSubject: Re: New reply\nMessage-ID: <ana-1@example.test>\n\nGreat, I will order today.\n\nOn Monday, Acme Support wrote:\n> Yes, we ship to Lisbon in 3 days.`;
    assert.match(await sendMail(inbound, "ana@example.test", replyTo, reply), /^250/);
    assert.match(await sendMail(inbound, "mallory@example.test", replyTo, reply.replace("ana@", "mallory@")), /^550/, "another sender is refused");
    await eventually(async () => (await bodies(admin)).includes("Great, I will order today."), { what: "the emailed reply in the dashboard" });
    assert.ok(!(await bodies(admin)).some((b) => b.includes("On Monday")), "the quoted mail is cut");
    await shot(admin, "email-reply-in-conversation");

    // The mail log lists both mails as sent.
    await admin.getByRole("button", { name: "Email", exact: true }).click();
    const log = admin.getByRole("dialog", { name: "Email" }).locator("[data-testid=mail-row]");
    await eventually(async () => (await log.count()) === 2, { what: "two mails in the log" });
    assert.deepEqual(await log.locator("td:nth-child(4)").allInnerTexts(), ["Sent", "Sent"]);
    await shot(admin, "email-log");
  } finally {
    await smtp.close();
  }
});
