"""Blocks per stage of the paper's ImageNet ResNets (Table 1), read by the zoo's stage map (``registry``) and by the
plain builders (``imagenet``) without either importing the other's module: the registry must not load torchvision."""

# conv2_x .. conv5_x, by depth.
STAGE_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
