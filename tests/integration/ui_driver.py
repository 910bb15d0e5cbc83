#!/usr/bin/env python3
"""Drives one headless Chromium through a list of steps, for tests/integration/test_ui.sh.

Chromium is started with --remote-debugging-pipe: DevTools protocol commands go
to its fd 3 and answers and events come back on its fd 4, each message a JSON
text followed by a NUL byte. One browser serves every step, so the test pays
Chromium's start-up once.

  ui_driver.py CHROMIUM PROFILE_DIR BASE_URL STEPS_FILE [--strict] [--wait-timeout S]
               [--ignore-log TEXT]...

STEPS_FILE has one step a line ("#" lines and blank lines are skipped):
  goto PATH    load BASE_URL + PATH
  hash HASH    set location.hash (the UI's routes)
  wait EXPR    poll the JavaScript expression until it is truthy (fails after the timeout)
  eval EXPR    evaluate it (a promise is awaited); fails if it throws
  dump FILE    write document.documentElement.outerHTML to FILE
  shot FILE    write a PNG screenshot of the 1280x720 viewport to FILE
  mark FILE    create FILE (tells the test a phase is done)
  await FILE   wait until FILE exists (the test did something in between), 60 s at most

Prints "ok: ..." / "FAIL: ..." lines; JavaScript exceptions in the page are
failures, and with --strict so are console errors and errors the browser logs
(failed loads, Content-Security-Policy violations) unless they contain a
--ignore-log TEXT. Exit status 1 if anything failed, 2 for bad usage or a
browser that would not start.
"""
import base64
import json
import os
import select
import subprocess
import sys
import time

WIDTH, HEIGHT = 1280, 720


class Browser:
    def __init__(self, chromium, profile):
        to_chrome_r, self.w = os.pipe()
        self.r, from_chrome_w = os.pipe()

        def child():  # in the child, before exec: its fd 3 reads our commands, fd 4 answers
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)
            os.set_inheritable(3, True)  # dup2 onto itself leaves close-on-exec set
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-pipe", "--user-data-dir=" + profile,
             "--window-size=%d,%d" % (WIDTH, HEIGHT), "about:blank"],
            preexec_fn=child, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile + ".err"), "ab"))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.id = 0
        self.session = None
        self.problems = []  # (kind, text) from events

    def close(self):
        try:
            os.close(self.w)
        except OSError:
            pass
        try:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()

    def _recv(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                data = os.read(self.r, 1 << 20)
                if not data:
                    raise EOFError("Chromium closed the pipe (exit status %s)" % self.proc.poll())
                self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def _event(self, m):
        method, p = m.get("method"), m.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text")
            self.problems.append(("exception", text))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.problems.append(("console", " ".join(str(a.get("value", a.get("description")))
                                                      for a in p.get("args", []))))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.problems.append(("log", "%s %s" % (e.get("text"), e.get("url", ""))))

    def send(self, method, params=None, timeout=30, session=True):
        self.id += 1
        msg = {"id": self.id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._recv(deadline)
            if m.get("id") == self.id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            self._event(m)

    def start(self):
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(d.get("exception", {}).get("description") or d.get("text"))
        return r.get("result", {}).get("value")


def main():
    args = sys.argv[1:]
    strict = "--strict" in args
    if strict:
        args.remove("--strict")
    wait_s = 10.0
    ignore = []
    while "--ignore-log" in args:
        i = args.index("--ignore-log")
        ignore.append(args[i + 1])
        del args[i:i + 2]
    if "--wait-timeout" in args:
        i = args.index("--wait-timeout")
        wait_s = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    chromium, profile, base, steps_file = args
    steps = []
    for n, line in enumerate(open(steps_file), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        verb, _, arg = line.partition(" ")
        if verb not in ("goto", "hash", "wait", "eval", "dump", "shot", "mark", "await") or not arg:
            print("%s:%d: bad step '%s'" % (steps_file, n, line), file=sys.stderr)
            return 2
        steps.append((verb, arg.strip()))

    b = Browser(chromium, profile)
    fails = 0
    try:
        b.start()
    except Exception as e:
        print("FAIL: Chromium did not start: %s" % e)
        b.close()
        return 2
    try:
        for verb, arg in steps:
            t0 = time.monotonic()
            try:
                if verb == "goto":
                    b.send("Page.navigate", {"url": base + arg})
                elif verb == "hash":
                    b.evaluate("location.hash = %s" % json.dumps(arg))
                elif verb == "eval":
                    b.evaluate(arg)
                elif verb == "wait":
                    deadline = time.monotonic() + wait_s
                    while True:
                        try:
                            if b.evaluate("!!(%s)" % arg):
                                break
                        except RuntimeError:
                            pass  # e.g. the page is still loading
                        if time.monotonic() > deadline:
                            raise TimeoutError("still false after %.0f s" % wait_s)
                        time.sleep(0.05)
                elif verb == "dump":
                    with open(arg, "w") as f:
                        f.write(b.evaluate("document.documentElement.outerHTML"))
                elif verb == "mark":
                    open(arg, "w").close()
                elif verb == "await":
                    deadline = time.monotonic() + 60
                    while not os.path.exists(arg):
                        if time.monotonic() > deadline:
                            raise TimeoutError("%s did not appear in 60 s" % arg)
                        time.sleep(0.05)
                elif verb == "shot":
                    data = b.send("Page.captureScreenshot", {"format": "png"})["data"]
                    with open(arg, "wb") as f:
                        f.write(base64.b64decode(data))
                print("ok: %s %s (%d ms)" % (verb, arg, (time.monotonic() - t0) * 1000))
            except Exception as e:
                fails += 1
                print("FAIL: %s %s: %s" % (verb, arg, e))
                if isinstance(e, (EOFError, TimeoutError)) and verb != "wait":
                    break
        try:
            b.evaluate("1")  # collect events that came after the last step
        except Exception:
            pass
        for kind, text in b.problems:
            if kind == "exception" or (strict and not any(t in text for t in ignore)):
                fails += 1
                print("FAIL: page %s: %s" % (kind, text))
            else:
                print("note: page %s: %s" % (kind, text))
    finally:
        b.close()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
