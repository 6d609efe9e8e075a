# A real SMTP server for the outreach tests (aiosmtpd): every message it
# receives is written as one JSON file (sender, recipients, Message-ID,
# decoded subject and plain-text body) into the directory given.
# Usage: outreach_smtp_sink.py PORT DIR; runs until stdin closes.
import sys, os, json, email, email.policy
from aiosmtpd.controller import Controller
out = sys.argv[2]
class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = msg.get_body(('plain',))
        rec = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "message_id": msg["Message-ID"],
               "subject": str(msg["Subject"]), "body": part.get_content() if part else ""}
        n = len([f for f in os.listdir(out) if f.endswith(".json")])
        tmp = os.path.join(out, f".{n}.tmp")
        with open(tmp, "w") as f: f.write(json.dumps(rec, ensure_ascii=False))
        os.rename(tmp, os.path.join(out, f"{n:05d}.json"))
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
