# Parley visitor identity, Python 3 (standard library only). Run on your server.
# Test driver: reads PARLEY_IDENTITY_SECRET, USER_ID, USER_EMAIL, USER_NAME;
# prints the user hash and the JWT on two lines.
import base64, hashlib, hmac, json, os, time

secret = os.environ["PARLEY_IDENTITY_SECRET"].encode()  # from Parley's site settings
user = {"id": os.environ["USER_ID"], "email": os.environ["USER_EMAIL"], "name": os.environ["USER_NAME"]}

# Form 1: user hash.
user_hash = hmac.new(secret, user["id"].encode(), hashlib.sha256).hexdigest()

# Form 2: short-lived HS256 JWT.
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

now = int(time.time())
header = {"alg": "HS256", "typ": "JWT"}
claims = {"sub": user["id"], "email": user["email"], "name": user["name"], "iat": now, "exp": now + 600}
signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
token = signing + "." + b64url(hmac.new(secret, signing.encode(), hashlib.sha256).digest())

print(user_hash)
print(token)
