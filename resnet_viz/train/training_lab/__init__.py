"""The training lab: up to three CIFAR nets trained side by side on the shipped 5,000-image training subset.

The nets take their steps in turn (net 1, net 2, net 3, then the next iteration), on the same batches in the same
order, so their curves grow together and differ only by the architecture. Test accuracy is measured on the shipped
1,000-image test sample every ``eval_every`` iterations and at the end. A net whose loss stops being finite is
marked "diverged" and left behind; the others go on.

The parts, each importing only those before it:

- ``settings``: what a student picks (nets, iterations, batch, learning rate) and its checks;
- ``stepper``: ``LabRun``, the nets stepped in turn (``step()`` until ``done``, ``stop()`` at any time), and the
  trained nets as models;
- ``job``: ``LabJob``, one run in a background thread, in turn in a ``WorkQueue``;
- ``curves``: smoothed curves and the training-loss gaps the paper's Figure 6 compares;
- ``sentences``: what the page says (status table, verdicts, clock);
- ``shelf``: a session's trained models, and a trained model's checkpoint files.

The recipe is the paper's (section 4.2: SGD, momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at half and three
quarters of the run), scaled to the lab's few hundred iterations, with a batch of 32 by default (the paper's: 128);
the loop is ``loop.py``'s step.
"""
