"""Training on CIFAR-10: recipes, the training loop, evaluation and fp16 export."""
