"""A model file for landscape-gui's "Your model" mode: a small MLP trained on two moons.

    landscape-gui model two_moons.py
    landscape-gui export --model two_moons.py --directions hessian -o plane.png

A model file defines model() (the trained torch.nn.Module), loss_fn and batches() (any
iterable of (inputs, targets)); optionally checkpoints (state dicts or paths: the training
path, for PCA planes, Connect and Sharpness) and lr (the rate it was trained with: the
Sharpness tab draws 2/lr, the edge of stability).
"""

import copy
import math

import torch

lr = 0.5
loss_fn = torch.nn.CrossEntropyLoss()


def _data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * math.pi
    upper = torch.rand(n, generator=g) < 0.5
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x, y], dim=1) + 0.12 * torch.randn(n, 2, generator=g)
    return pts, (~upper).long()


X, Y = _data()


def batches():
    return [(X[s:s + 100], Y[s:s + 100]) for s in range(0, len(X), 100)]


def _train(seed=0, epochs=300, every=30):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 2))
    opt = torch.optim.SGD(net.parameters(), lr=lr)   # full-batch gradient descent
    path = []
    for epoch in range(epochs):
        opt.zero_grad()
        loss_fn(net(X), Y).backward()
        opt.step()
        if (epoch + 1) % every == 0:
            path.append(copy.deepcopy(net.state_dict()))
    return net.eval(), path


_net, checkpoints = _train()


def model():
    return _net
