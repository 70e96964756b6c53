"""Independent judge for fleetgate-identity: PyJWT + cryptography.

Reads one JSON request on stdin, writes one JSON answer on stdout. Tasks:
  verify      - PyJWT verifies a token with a public key PEM (or a JWKS document and kid)
  mint        - mint a device JWT exactly like the seed guide's generate_jwt()
  mint_der    - an ES256 token whose signature is DER, as cryptography emits it
"""
import base64
import json
import sys

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verify(task):
    if "jwks" in task:
        key = jwt.PyJWKSet.from_json(task["jwks"])[jwt.get_unverified_header(task["token"])["kid"]].key
    else:
        key = task["public_pem"]
    try:
        claims = jwt.decode(
            task["token"], key, algorithms=[task["alg"]], audience=task["aud"],
            options={"verify_iat": False, "verify_exp": False},
        )
        return {"ok": True, "claims": claims}
    except jwt.PyJWTError as e:
        return {"ok": False, "error": type(e).__name__}


def generate_jwt(project_id, private_key_file, algorithm, now):
    # The seed guide's code, with time.time() replaced by the harness's fixed clock.
    token = {
        'iat': int(now),
        'exp': int(now) + 3600,
        'aud': project_id
    }
    with open(private_key_file, 'r') as f:
        private_key = f.read()
    return jwt.encode(token, private_key, algorithm=algorithm)


def mint_der(task):
    with open(task["private_key_file"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    header = b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"iat": task["now"], "exp": task["now"] + 3600, "aud": task["project"]}).encode())
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{b64(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))}"


def main():
    answers = []
    for task in json.load(sys.stdin):
        kind = task["task"]
        if kind == "verify":
            answers.append(verify(task))
        elif kind == "mint":
            answers.append({"token": generate_jwt(task["project"], task["private_key_file"], task["alg"], task["now"])})
        elif kind == "mint_der":
            answers.append({"token": mint_der(task)})
        else:
            raise SystemExit(f"unknown task {kind!r}")
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
