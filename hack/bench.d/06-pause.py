# hack/bench.d/06-pause.py — section 6 of hack/bench: the pause process.
"""6. RSS of the podshim-pause process of a pid-sharing pod."""

from host import proc_status, smaps_pss
from lib import CmdError, log, run

SECTION = 6
ORDER = 60


def measure(b):
    log("6. pause RSS")
    bun = b.bundle("rss", args=("/bin/sleep", "1000"), pod="rss", share="net,ipc,uts,pid")
    run(b.PR() + ["create", "--bundle", bun, b.cid("rss")])
    try:
        pods = [p for p in b.pods() if p["name"] == "rss"]
        pid = pods[0]["pause_pid"] if pods else 0
        if not pid:
            raise CmdError(f"section 6: no pause process: {pods}")
        st = proc_status(pid)
        if st.get("Name") != "podshim-pause":
            raise CmdError(f"section 6: pid {pid} is {st.get('Name')}, not podshim-pause")
        rss = int(st["VmRSS"].split()[0])
        anon = st.get("RssAnon", "?")
        pss = smaps_pss(pid)
    finally:
        run(b.PR() + ["delete", "--force", b.cid("rss")], check=False)
    b.expect_clean("section 6")
    b.rows[6] = [["6", "podshim-pause VmRSS (pid-sharing pod)", 1, f"{rss} KiB", "",
                  f"RssAnon {anon.replace(' kB', ' KiB').strip()}"
                  + (f", Pss {pss} KiB" if pss is not None else ""), "", ""]]
