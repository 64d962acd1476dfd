# SPDX-License-Identifier: MIT
"""The guest's network (docs/network.md): off by default; `--network user`
or a forward gives a kernel target a virtio NIC on QEMU's user-mode
network, set up by the init with the standard addresses; host ports are
forwarded to the guest; what cannot work is said in one line before any
VM starts."""
import hashlib
import http.server
import os
import socket
import subprocess
import threading
import urllib.request

from conftest import debian_kernel, small_kernel


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An HTTP server on the host's loopback, serving one directory."""

    def __init__(self, directory):
        handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(  # noqa: E731
            *a, directory=str(directory), **kw)
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# The guest fetches from the host's loopback through 10.0.2.2, shows its
# set-up, then serves one request on its port 8000: the host's, through the
# forward.
GUEST = r"""
set -e
python3 -c 'import urllib.request, sys; sys.stdout.write(urllib.request.urlopen("http://10.0.2.2:%(port)d/from-host.txt", timeout=20).read().decode())'
echo "resolv: $(cat /etc/resolv.conf)"
echo "route: $(awk '$2 == "00000000" {print $1, $3}' /proc/net/route)"
mkdir -p /tmp/www && echo "from the guest" > /tmp/www/guest.txt
python3 -c '
import functools, http.server
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/tmp/www")
server = http.server.HTTPServer(("0.0.0.0", 8000), handler)
print("serving", flush=True)
server.handle_request()
' 2>/dev/null
echo done
"""


def resolv_digest():
    with open("/etc/resolv.conf", "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_forwarding(vmtest_binary, project, host_port, server):
    """One run: the guest fetches from the host, the host from the guest."""
    env = dict(os.environ)
    env.pop("VMTEST_NO_UI", None)
    p = subprocess.Popen([vmtest_binary, "-v", "--forward", "%d:8000" % host_port,
                          "-k", debian_kernel(), "--", "sh", "guest.sh"],
                         cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    timer = threading.Timer(240, p.kill)
    timer.start()
    try:
        seen = ""
        while True:
            line = p.stdout.readline()
            assert line, "vmtest ended before the guest served: " + seen + p.stderr.read()
            seen += line
            if line == "serving\n":
                break
        fetched = urllib.request.urlopen("http://127.0.0.1:%d/guest.txt" % host_port,
                                         timeout=30).read().decode()
        seen += p.stdout.read()
        err = p.stderr.read()
        p.wait()
    finally:
        timer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    return seen, err, p.returncode, fetched


def test_the_guest_and_the_host_reach_each_other(vmtest_binary, tmp_path):
    """--forward gives the Debian kernel's guest a NIC: it fetches a file
    from a server on the host's loopback through 10.0.2.2, gets the
    standard route and DNS (in its overlay: the host's resolv.conf is not
    touched), and the host fetches a file from the guest's server through
    the forwarded port.  Twice: the first run saves a snapshot, the second
    restores it, NIC and all."""
    www = tmp_path / "www"
    project = tmp_path / "project"
    www.mkdir()
    project.mkdir()
    (www / "from-host.txt").write_text("served by the host\n")
    before = resolv_digest()
    with Server(www) as server:
        (project / "guest.sh").write_text(GUEST % {"port": server.port})
        # One port for both: forwards are in the snapshot's key.
        port = free_port()
        for run in ("first", "second"):
            out, err, status, fetched = run_forwarding(vmtest_binary, project, port, server)
            assert status == 0, (run, out, err)
            assert "served by the host\n" in out, (run, out)
            assert "resolv: nameserver 10.0.2.3\n" in out, (run, out)
            assert "route: eth0 0202000A\n" in out, (run, out)  # via 10.0.2.2
            assert fetched == "from the guest\n", run
            assert out.endswith("done\n"), out
            if run == "second":
                assert "restoring the snapshot" in err, err
    assert resolv_digest() == before


def test_no_network_by_default(vmtest, tmp_path):
    """Loopback only, as in vmtest 0.18: no interface but lo."""
    r = vmtest("-k", debian_kernel(), "--", "ls /sys/class/net", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "lo\n"


def test_what_cannot_be_forwarded_is_said_before_a_vm_starts(vmtest, tmp_path):
    """Bad forwards are usage errors (status 2) naming the option or the
    file's line; a host port that is taken stops the target (status 69)
    with one line naming it, before QEMU starts; a kernel without a NIC
    driver is told which option it lacks."""
    r = vmtest("--forward", "99999:80", "-k", small_kernel(), "true", cwd=tmp_path)
    assert r.returncode == 2
    assert "--forward '99999:80': ports are numbers from 1 to 65535" in r.stderr, r.stderr
    r = vmtest("--network", "none", "--forward", "8080:80", "-k", small_kernel(), "true",
               cwd=tmp_path)
    assert r.returncode == 2
    assert "--network none leaves no network for --forward" in r.stderr, r.stderr
    r = vmtest("--network", "slirp", "-k", small_kernel(), "true", cwd=tmp_path)
    assert r.returncode == 2
    assert "--network 'slirp': expected none or user" in r.stderr, r.stderr
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "n"\nkernel = "%s"\ncommand = "true"\n'
        '[target.vm]\nforward = ["8080:80", "tcp:localhost:1:2"]\n' % small_kernel())
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 2
    assert "vmtest.toml:6:23: target 'n': " in r.stderr and \
        "vm.forward 'tcp:localhost:1:2': 'localhost' is not an IPv4 address" in r.stderr, \
        r.stderr
    # A port some program holds.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = vmtest("-v", "--forward", "%d:80" % port, "-k", small_kernel(), "true",
                   cwd=tmp_path)
    assert r.returncode == 69, r.stderr
    assert "cannot forward TCP port %d of 127.0.0.1 to the guest's port 80: Address already " \
        "in use (another program listens there)" % port in r.stderr, r.stderr
    assert "qemu-system" not in r.stderr
    # The small test kernel has no virtio-net driver.
    r = vmtest("--network", "user", "-k", small_kernel(), "true", cwd=tmp_path,
               timeout=300)
    assert r.returncode == 69, r.stderr
    assert "the guest has no network interface (the kernel lacks CONFIG_VIRTIO_NET?)" \
        in r.stderr, r.stderr


def test_an_image_gets_the_nic_too(vmtest, tmp_path):
    """An image target gets the same NIC; its own tools set it up (here
    busybox's, with the standard address) and fetch from the host."""
    from test_image_targets import test_image
    www = tmp_path / "www"
    www.mkdir()
    (www / "from-host.txt").write_text("served to the image\n")
    with Server(www) as server:
        r = vmtest("--network", "user", "-i", test_image("bios"), "--",
                   "ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up && "
                   "route add default gw 10.0.2.2 && "
                   "wget -q -O - http://10.0.2.2:%d/from-host.txt" % server.port,
                   cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "served to the image\n", r.stdout
    # Without --network the image has no NIC.
    r = vmtest("-i", test_image("bios"), "--", "ls /sys/class/net", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "eth0" not in r.stdout.split(), r.stdout
