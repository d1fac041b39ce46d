"""Looking inside a model: hooks (the only place hooks and the per-model lock live), feature maps
(activations of one forward pass), receptive fields and the architecture summary (meta-device tables)."""
