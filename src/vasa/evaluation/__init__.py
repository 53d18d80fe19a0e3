"""Evaluation of the face latent space and renderer against real footage.

The package imports nothing itself: its model-free readings of pictures (`interior`) also serve
the refiner's training, which runs where the video stack (PyAV) is not installed."""
