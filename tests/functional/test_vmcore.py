# SPDX-License-Identifier: MIT
"""A vmcore (docs/vmcore.md): a kernel target whose kernel panics leaves
its memory in --dump DIR/NAME/vmcore, kdump-compressed, with the guest's
VMCOREINFO; drgn (Debian's python3-drgn) opens it and reads, through the
dump's own page tables, the release the guest printed before it crashed.
The two targets share one kernel and start on a cold cache.
With --dump a target that times out leaves one too (with --output-dir
alone it does not: test_ci.py's "times out" target has no vmcore)."""
import struct

import drgn  # python3-drgn: make check installs it

from conftest import debian_kernel

CONFIG = """
[[target]]
name = "panics"
kernel = "{kernel}"
command = "uname -r; uname -v; echo c > /proc/sysrq-trigger; echo survived"

[[target]]
name = "hangs"
kernel = "{kernel}"
command = "echo hanging; sleep 600"
timeout = 3
"""


def vmcoreinfo(path):
    """VMCOREINFO's KEY=value lines, from the kdump header's sub-header."""
    with open(path, "rb") as f:
        head = f.read(432)
        assert head[:8] == b"KDUMP   "
        assert head[12:17] == b"Linux"     # utsname completed for libkdumpfile
        block = struct.unpack_from("<I", head, 428)[0]
        f.seek(block + 32)
        offset, size = struct.unpack("<QQ", f.read(16))
        f.seek(offset)
        text = f.read(size).decode()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def c_string(data):
    return data.split(b"\0", 1)[0].decode()


def test_panic_and_timeout_leave_a_vmcore_drgn_opens(vmtest, tmp_path):
    kernel = debian_kernel()
    (tmp_path / "vmtest.toml").write_text(CONFIG.format(kernel=kernel))
    # A cache of its own, cold: both targets make the kernel's files at
    # once, and neither may take the other's for a guest's swap.
    r = vmtest("-j", "2", "--dump", "dumps", cwd=tmp_path, timeout=900,
               env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "the guest kernel panicked: Kernel panic - not syncing: sysrq triggered crash" in out
    assert "survived" not in out
    assert "dumped the panicked guest's memory (" in out
    assert "dumped the timed-out guest's memory (" in out
    assert "Timed out after 3 s" in out
    lines = r.stdout.splitlines()
    release = next(l for l in lines if l.startswith(kernel.rsplit("vmlinuz-", 1)[1]))

    for name in ["panics", "hangs"]:
        path = tmp_path / "dumps" / name / "vmcore"
        assert path.stat().st_mode & 0o777 == 0o600   # the guest's memory: its owner's alone
        info = vmcoreinfo(path)
        assert info["OSRELEASE"] == release, name
        prog = drgn.Program()
        prog.set_core_dump(str(path))
        assert prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL
        # struct new_utsname at init_uts_ns.name: sysname, nodename,
        # release, version, each 65 bytes: read through the dump's page tables.
        uts = int(info["SYMBOL(init_uts_ns)"], 16) + int(info["OFFSET(uts_namespace.name)"])
        assert c_string(prog.read(uts, 65)) == "Linux"
        assert c_string(prog.read(uts + 2 * 65, 65)) == release
    # Nothing else in the directory: a vmcore per target that dumped.
    assert sorted(p.name for p in (tmp_path / "dumps").iterdir()) == ["hangs", "panics"]
