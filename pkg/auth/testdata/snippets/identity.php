<?php
// Parley visitor identity, PHP 7.4+ (no dependencies). Run on your server.
// Test driver: reads PARLEY_IDENTITY_SECRET, USER_ID, USER_EMAIL, USER_NAME;
// prints the user hash and the JWT on two lines.
$secret = getenv('PARLEY_IDENTITY_SECRET'); // from Parley's site settings
$user = ['id' => getenv('USER_ID'), 'email' => getenv('USER_EMAIL'), 'name' => getenv('USER_NAME')];

// Form 1: user hash.
$userHash = hash_hmac('sha256', $user['id'], $secret);

// Form 2: short-lived HS256 JWT.
function b64url(string $data): string {
    return rtrim(strtr(base64_encode($data), '+/', '-_'), '=');
}
$now = time();
$signing = b64url(json_encode(['alg' => 'HS256', 'typ' => 'JWT'])) . '.' .
    b64url(json_encode(['sub' => $user['id'], 'email' => $user['email'], 'name' => $user['name'],
                        'iat' => $now, 'exp' => $now + 600]));
$token = $signing . '.' . b64url(hash_hmac('sha256', $signing, $secret, true));

echo $userHash, "\n", $token, "\n";
