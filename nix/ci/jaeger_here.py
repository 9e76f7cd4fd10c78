"""Runs the NixOS tests' Jaeger checks (nixos-tests/jaeger_api.py) against a
Jaeger on this machine, for scripts/check-nix.sh:

    jaeger_here.py HOST sent FILE        traces span-sender sent (lines: protocol service trace-id)
    jaeger_here.py HOST sampling FILE    /sampling on 5778 answers with FILE's default strategy
    jaeger_here.py HOST sandbox          the sandbox's 4-span trace is in Jaeger
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


class ThisMachine:
    """Stands in for a test-driver machine that reaches Jaeger as `jaeger`."""

    def __init__(self, host):
        self.host = host

    def execute(self, command):
        command = command.replace("http://jaeger:", f"http://{self.host}:")
        done = subprocess.run(command, shell=True, capture_output=True, text=True)
        return done.returncode, done.stdout

    def succeed(self, command):
        rc, out = self.execute(command)
        assert rc == 0, f"{command} failed with exit code {rc}"
        return out


def main(host, what, *args):
    checks = {}
    with open(os.path.join(HERE, "../../nixos-tests/jaeger_api.py")) as source:
        exec(source.read(), checks)
    machine = ThisMachine(host)
    if what == "sent":
        with open(args[0]) as sent:
            for line in sent:
                protocol, service, trace_id = line.split()
                checks["assert_sent_trace"](machine, trace_id, service, protocol)
                print(f"   {protocol:<19} trace {trace_id}: its spans, kinds, parent and tags, as sent")
    elif what == "sampling":
        import json

        with open(args[0]) as strategies:
            shipped = json.load(strategies)["content"]
        checks["assert_default_sampling"](machine, "check-nix", shipped)
        print("   /sampling?service=check-nix on 5778 answers with the shipped default strategy")
    elif what == "sandbox":
        checks["assert_sandbox_in_jaeger"](machine)
        print("   assert_sandbox_in_jaeger passes on the real Jaeger's JSON")
    else:
        sys.exit(f"jaeger_here.py: unknown check {what}")


if __name__ == "__main__":
    main(*sys.argv[1:])
