"""Explaining a prediction: Grad-CAM in one pass (all stages at once) and the Captum methods (``attribution``), the
registry of the methods a page offers (``methods``), and feature visualisation by optimisation (``feature_vis``).
The maps come out raw; ``resnet_viz.render`` scales and colours them."""
