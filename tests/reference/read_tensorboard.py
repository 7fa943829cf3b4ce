"""Reads TensorBoard event files with the `tensorboard` package and prints every scalar as
"run tag step value", one per line (runs are the sub-folders of argv[1])."""
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> int:
    root = sys.argv[1]
    for run in sorted(os.listdir(root)):
        acc = EventAccumulator(os.path.join(root, run))
        acc.Reload()
        for tag in sorted(acc.Tags()["scalars"]):
            for e in acc.Scalars(tag):
                print(run, tag, e.step, repr(e.value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
