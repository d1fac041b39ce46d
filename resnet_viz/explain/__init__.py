"""Explaining a prediction: Grad-CAM in one pass (all stages at once) and the Captum methods behind one registry."""
