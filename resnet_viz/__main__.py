import sys

from resnet_viz.cli import main

sys.exit(main())
