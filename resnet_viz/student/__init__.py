"""A student's own code checked and converted (``python -m resnet_viz check resnet | check pooling | convert``):
code.py runs it (imported from its file, in a worker process with a time limit), resnet.py checks a hand-written
ResNet against the zoo, convert.py turns its trained weights into this project's checkpoint format, pooling.py
checks hand-written pooling against torch.nn.functional. The app never imports a student's code: its pages show
these commands with their output on the project's own examples (``examples/``), computed by demo.py."""
