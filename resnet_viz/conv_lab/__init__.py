"""The conv & pooling lab: output-size and receptive-field arithmetic, the sliding window, hand-written pooling."""
