import sys

from resnet_viz.cli import main
from resnet_viz.runtime import configure_allocator

if __name__ == "__main__":  # not again in a spawned worker process
    configure_allocator()  # a CLI process: set once, before any work
    sys.exit(main())
