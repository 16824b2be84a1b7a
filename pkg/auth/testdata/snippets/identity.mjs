// Parley visitor identity, Node.js (no dependencies). Run on your server.
// Test driver: reads PARLEY_IDENTITY_SECRET, USER_ID, USER_EMAIL, USER_NAME;
// prints the user hash and the JWT on two lines.
import crypto from "node:crypto";

const secret = process.env.PARLEY_IDENTITY_SECRET; // from Parley's site settings
const user = { id: process.env.USER_ID, email: process.env.USER_EMAIL, name: process.env.USER_NAME };

// Form 1: user hash.
const userHash = crypto.createHmac("sha256", secret).update(user.id).digest("hex");

// Form 2: short-lived HS256 JWT.
const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const signing = b64url({ alg: "HS256", typ: "JWT" }) + "." +
  b64url({ sub: user.id, email: user.email, name: user.name, iat: now, exp: now + 600 });
const token = signing + "." + crypto.createHmac("sha256", secret).update(signing).digest("base64url");

console.log(userHash);
console.log(token);
