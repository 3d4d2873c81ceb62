"""Who holds an event, a ticket or the sweep lease: `<node>-<pid>`, where the node is the host
name and the PID namespace.

The host name alone is not enough: containers on the host's network (Docker's `--network host`,
Kubernetes' `hostNetwork`) share the host's name and each start as pid 1. A process may give back
at once only what a dead process of its own PID namespace held, where `kill -0` can tell; a
sibling container's holds wait for their lease to run out, so two replicas never act on one ticket.
"""

from __future__ import annotations

import os
import socket


def pid_namespace() -> str:
    """The inode of this process's PID namespace ("4026531836"), or "" where /proc does not say."""
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    return "".join(ch for ch in link if ch.isdigit())


def node_name() -> str:
    namespace = pid_namespace()
    return f"{socket.gethostname()}.pidns{namespace}" if namespace else socket.gethostname()


def process_name() -> str:
    return f"{node_name()}-{os.getpid()}"
