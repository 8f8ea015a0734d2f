#!/usr/bin/env python3
"""Generate the labelled scanner corpus: fake-but-realistic secrets and
realistic non-secrets in the file types a deploy repo holds.

Every secret is random, generated here, in the provider's format; none is
real. The output is deterministic (fixed seed), so the corpus is reproducible
and is not committed (token-shaped strings in git trip provider push
protection). Labels go to labels.json: {"file": {"line": "kind"}} for every
line that holds a secret; every other line is a negative.
"""
import base64, json, os, random, string, sys

R = random.Random(20261122)
UP = string.ascii_uppercase
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
BECH = "023456789ACDEFGHJKLMNPQRSTUVWXYZ"

def rs(alpha, n): return "".join(R.choice(alpha) for _ in range(n))
def b64u(b): return base64.urlsafe_b64encode(b).decode().rstrip("=")

def aws_id(): return R.choice(["AKIA", "ASIA"]) + rs(UP + "234567", 16)
def aws_secret(): return rs(B64, 40)
def github(): return R.choice(["ghp_", "gho_", "ghs_"]) + rs(ALNUM, 36)
def github_pat(): return "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59)
def gitlab(): return "glpat-" + rs(ALNUM + "-_", 20)
def slack(): return "xoxb-" + rs(string.digits, 12) + "-" + rs(string.digits, 13) + "-" + rs(ALNUM, 24)
def slack_hook(): return "https://hooks.slack.com/services/T" + rs(UP + string.digits, 8) + "/B" + rs(UP + string.digits, 10) + "/" + rs(ALNUM, 24)
def stripe(): return R.choice(["sk_live_", "rk_live_"]) + rs(ALNUM, R.choice([24, 34, 99]))
def google(): return "AIza" + rs(ALNUM + "-_", 35)
def age_key(): return "AGE-SECRET-KEY-1" + rs(BECH, 58)
def jwt():
    h = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64u(json.dumps({"sub": str(R.randint(1, 10**6)), "name": "user%d" % R.randint(1, 999), "iat": R.randint(10**9, 2 * 10**9)}).encode())
    return f"{h}.{p}.{b64u(os.urandom(0) or bytes(R.getrandbits(8) for _ in range(32)))}"
def password():
    alpha = ALNUM + "!@#%^&*-_+="
    while True:
        p = rs(alpha, R.randint(12, 24))
        if any(c.isdigit() for c in p) and any(c.isupper() for c in p): return p
def hex_token(): return rs("0123456789abcdef", R.choice([32, 40, 64]))
def b64_token(): return base64.b64encode(bytes(R.getrandbits(8) for _ in range(R.choice([24, 32, 48])))).decode()
def db_url(): return f"{R.choice(['postgres', 'mysql', 'redis', 'amqp'])}://{R.choice(['app', 'admin', 'svc'])}:{rs(ALNUM, R.randint(12, 20))}@{R.choice(['db', 'db.internal', '10.0.3.7'])}:{R.choice([5432, 3306, 6379, 5672])}/app"

PEM = ["RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY"]

# (kind, name, value-maker)
SECRETS = [
    ("aws-access-key-id", "AWS_ACCESS_KEY_ID", aws_id),
    ("aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", aws_secret),
    ("github-token", "GITHUB_TOKEN", github),
    ("github-token", "GH_PAT", github_pat),
    ("gitlab-token", "GITLAB_TOKEN", gitlab),
    ("slack-token", "SLACK_BOT_TOKEN", slack),
    ("slack-webhook", "SLACK_WEBHOOK", slack_hook),
    ("stripe-secret-key", "STRIPE_SECRET_KEY", stripe),
    ("google-api-key", "GOOGLE_MAPS_KEY", google),
    ("age-secret-key", "AGE_KEY", age_key),
    ("jwt", "SESSION_JWT", jwt),
    ("generic-password", "DB_PASSWORD", password),
    ("generic-password", "admin_password", password),
    ("generic-hex", "API_SECRET", hex_token),
    ("generic-hex", "webhook_secret", hex_token),
    ("generic-b64", "SIGNING_KEY", b64_token),
    ("generic-b64", "encryption_key", b64_token),
    ("url-credentials", "DATABASE_URL", db_url),
]

def uuid(): return "%08x-%04x-4%03x-a%03x-%012x" % (R.getrandbits(32), R.getrandbits(16), R.getrandbits(12), R.getrandbits(12), R.getrandbits(48))
NEGATIVES = [
    ("REQUEST_ID", uuid), ("GIT_SHA", lambda: rs("0123456789abcdef", 40)),
    ("checksum", lambda: rs("0123456789abcdef", 64)),
    ("integrity", lambda: "sha512-" + base64.b64encode(bytes(R.getrandbits(8) for _ in range(64))).decode()),
    ("DB_PASSWORD", lambda: R.choice(["changeme", "your-password-here", "<password>", "${DB_PASSWORD}", "{{ db_password }}", "xxxxxxxx", "CHANGE_ME", "example"])),
    ("API_KEY", lambda: R.choice(["your_api_key_here", "${API_KEY}", "<YOUR_API_KEY>", "replace-me", "TODO"])),
    ("AWS_ACCESS_KEY_ID", lambda: "AKIAIOSFODNN7EXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", lambda: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("STRIPE_PUBLISHABLE_KEY", lambda: "pk_live_" + rs(ALNUM, 24)),
    ("SSH_PUBLIC_KEY", lambda: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rs(B64, 43) + " deploy@ci"),
    ("AGE_RECIPIENT", lambda: "age1" + rs("023456789acdefghjklmnpqrstuvwxyz", 58)),
    ("TIMEOUT_SECONDS", lambda: str(R.randint(1, 600))),
    ("LOG_LEVEL", lambda: R.choice(["debug", "info", "warn"])),
    ("API_URL", lambda: "https://api.%s.example.org/v%d" % (rs(string.ascii_lowercase, 6), R.randint(1, 3))),
    ("password_min_length", lambda: str(R.randint(8, 16))),
    ("token_url", lambda: "https://auth.example.org/oauth/token"),
    ("secret_name", lambda: R.choice(["db-credentials", "app-secrets", "tls-cert"])),
    ("auth_method", lambda: R.choice(["oauth", "basic", "none"])),
    ("LOGO", lambda: "data:image/png;base64,iVBORw0KGgo" + rs(B64, 60)),
    ("DB_PASSWORD", lambda: R.choice(['os.environ["DB_PASSWORD"]', "process.env.DB_PASSWORD", "ENV['DB_PASSWORD']", "settings.DB_PASSWORD"])),
    ("IMAGE", lambda: "registry.example.org/app@sha256:" + rs("0123456789abcdef", 64)),
    ("COLOR", lambda: "#%06x" % R.getrandbits(24)),
    ("VERSION", lambda: "%d.%d.%d" % (R.randint(0, 9), R.randint(0, 20), R.randint(0, 99))),
    ("CACHE_KEY_PREFIX", lambda: "app:%s:" % rs(string.ascii_lowercase, 8)),
    ("FEATURE_FLAGS", lambda: ",".join(R.sample(["beta", "dark_mode", "new_nav", "fast_path"], 2))),
    ("CLASS_NAME", lambda: "AbstractSingletonProxyFactoryBean"),
    ("AUTH_TOKEN_HEADER", lambda: "X-Auth-Token"),
    ("PUBLIC_KEY_PATH", lambda: "/etc/app/keys/public.pem"),
    ("CSRF_COOKIE_NAME", lambda: "csrftoken"),
    ("ETAG", lambda: '"%s"' % rs("0123456789abcdef", 32)),
]

def render(fmt, name, value):
    if fmt == "env": return f"{name}={value}"
    if fmt == "sh": return f"export {name}=\"{value}\""
    if fmt == "py": return f"{name} = \"{value}\"" if not value.startswith(("os.", "settings.")) else f"{name} = {value}"
    if fmt == "js": return f"const {name.lower()} = '{value}';" if not value.startswith("process.") else f"const {name.lower()} = {value};"
    if fmt == "yaml": return f"  {name.lower()}: {value}" if not value.startswith(("{", "<", "#")) else f"  {name.lower()}: \"{value}\""
    if fmt == "json": return f"  \"{name.lower()}\": \"{value}\","
    if fmt == "tf": return f"  {name.lower()} = \"{value}\""
    raise ValueError(fmt)

FILLER = {
    "env": ["# service settings", "", "PORT=8080", "NODE_ENV=production"],
    "sh": ["#!/bin/sh", "set -eu", "cd /srv/app", "echo starting"],
    "py": ["import os", "", "DEBUG = False", "ALLOWED_HOSTS = ['app.example.org']", "def handler(event):", "    return {'status': 200}"],
    "js": ["'use strict';", "const port = 3000;", "module.exports = { port };", "// config"],
    "yaml": ["app:", "  replicas: 2", "  image: app:latest", "  # settings"],
    "json": ["{", "  \"name\": \"app\",", "  \"private\": true,", "}"],
    "tf": ["resource \"aws_instance\" \"web\" {", "  instance_type = \"t3.micro\"", "  count = 2", "}"],
}
EXT = {"env": ".env", "sh": ".sh", "py": ".py", "js": ".js", "yaml": ".yaml", "json": ".json", "tf": ".tf"}

def pem_block():
    label = R.choice(PEM)
    body = [rs(B64, 64) for _ in range(R.randint(3, 6))]
    return [f"-----BEGIN {label}-----"] + body + [f"-----END {label}-----"]

def main(out):
    os.makedirs(out, exist_ok=True)
    labels = {}
    n_files = 160
    for i in range(n_files):
        fmt = R.choice(list(EXT))
        lines, lab = [], {}
        for _ in range(R.randint(6, 14)):
            roll = R.random()
            if roll < 0.25:
                kind, name, mk = R.choice(SECRETS)
                lines.append(render(fmt, name, mk()))
                lab[len(lines)] = kind
            elif roll < 0.30 and fmt in ("env", "yaml", "json"):
                block = pem_block()
                start = len(lines) + 1
                lines.extend(block)
                lab[start] = "private-key"  # the BEGIN line is the finding
                for j in range(1, len(block)):
                    lab[start + j] = "private-key-body"
            elif roll < 0.65:
                name, mk = R.choice(NEGATIVES)
                lines.append(render(fmt, name, mk()))
            else:
                lines.append(R.choice(FILLER[fmt]))
        name = f"f{i:03d}{EXT[fmt]}"
        with open(os.path.join(out, name), "w") as f:
            f.write("\n".join(lines) + "\n")
        labels[name] = {str(k): v for k, v in lab.items()}
    with open(os.path.join(out, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1, sort_keys=True)
    pos = sum(1 for f in labels.values() for k, v in f.items() if v != "private-key-body")
    print(f"corpus: {n_files} files, {pos} secret lines in {out}", file=sys.stderr)

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "generated"))
