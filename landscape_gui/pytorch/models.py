"""A small CNN and random image data: the benchmark's model, the tests' model and a
picklable factory for cluster workers (a module-level function, importable everywhere)."""

from __future__ import annotations


def small_cnn(channels: int = 3, size: int = 16, classes: int = 20, seed: int = 0):
    """conv–BN–ReLU ×2, linear: 46k parameters at the defaults (3×16×16 inputs, 20 classes)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * (size // 2) ** 2, classes))


def random_images(n: int = 1024, channels: int = 3, size: int = 16, classes: int = 20, seed: int = 0,
                  batch_size: int = 128):
    """(inputs, labels) batches of Gaussian images with labels that a CNN can partly learn
    (the class is the brightest of ``classes`` fixed patterns), as a list a DataLoader would give."""
    import torch

    g = torch.Generator().manual_seed(seed)
    patterns = torch.randn(classes, channels, size, size, generator=g)
    x = torch.randn(n, channels, size, size, generator=g)
    y = (x.flatten(1) @ patterns.flatten(1).T).argmax(dim=1)
    return [(x[s:s + batch_size], y[s:s + batch_size]) for s in range(0, n, batch_size)]


def warm_bn(model, batches, passes: int = 1):
    """Give BatchNorm running statistics from the data (a trained model has them)."""
    import torch

    model.train()
    with torch.no_grad():
        for _ in range(passes):
            for x, _y in batches:
                model(x)
    model.eval()
    return model
