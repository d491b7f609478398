#!/usr/bin/python3
"""The hub a Python user would write, as the bench's reference for zerocam-hub (#20): pyzmq's
zmq.proxy between an XSUB that senders connect to and an XPUB that receivers connect to. It
forwards messages and subscriptions as they are: no validation, no last-frame cache. Debian's
python3-zmq. Run by bench/hub.ts:

  python-hub.py          binds both on tcp://127.0.0.1:*, prints {"senders": ..., "receivers": ...}, forwards until SIGTERM
"""
import json

import zmq

context = zmq.Context.instance()
frontend = context.socket(zmq.XSUB)
backend = context.socket(zmq.XPUB)
frontend.bind("tcp://127.0.0.1:*")
backend.bind("tcp://127.0.0.1:*")
print(json.dumps({"senders": frontend.getsockopt_string(zmq.LAST_ENDPOINT), "receivers": backend.getsockopt_string(zmq.LAST_ENDPOINT)}), flush=True)
zmq.proxy(frontend, backend)
