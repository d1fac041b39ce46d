import sys

from resnet_viz.cli import main
from resnet_viz.runtime import configure_allocator

configure_allocator()  # a CLI process: set once, before any work
sys.exit(main())
