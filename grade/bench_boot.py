"""bench_boot.py [N]: boot times under each emulator and boot path (part of `make bench`).

For each of QEMU+OVMF (UEFI loader), QEMU+SeaBIOS (GRUB) and Bochs (GRUB), boots the built kernel N
times (default 3) with an empty test selection and prints, per run and as the median: the time from
starting the emulator to the first protocol line (the firmware's and loader's share) and to the
emulator's exit after `@@ end`. Numbers only: nothing here passes or fails on time.
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferrous import runner  # noqa: E402

CASES = (("qemu", "uefi"), ("qemu", "grub"), ("bochs", "grub"))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"boot times, {n} runs each, -m 256M, seed=1 (seconds; median in the last columns)")
    print(f"{'emulator/path':16} {'to first @@ line':>30} {'to exit':>30}   median first / exit")
    for emu, boot in CASES:
        firsts, walls = [], []
        for _ in range(n):
            r = runner.run(boot=boot, emu=emu, cmdline="seed=1", timeout=120)
            if r.outcome != runner.Outcome.OK:
                print(f"{emu}/{boot}: run ended {r.outcome}\n{r.describe()}")
                return 1
            firsts.append(r.first_event_time)
            walls.append(r.wall_time)
        f = " ".join(f"{x:5.2f}" for x in firsts)
        w = " ".join(f"{x:5.2f}" for x in walls)
        print(f"{emu + '/' + boot:16} {f:>30} {w:>30}   {statistics.median(firsts):5.2f} / "
              f"{statistics.median(walls):5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
