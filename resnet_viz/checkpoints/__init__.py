"""Checkpoints: read (safe load, validation, architecture inference), write (the one atomic writer), find
(shipped and user folders, source names) and pretrained (torchvision's ImageNet weights)."""
