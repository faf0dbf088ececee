{% raw %}"""Models: an MLP for tables, a small CNN for images, averaged embeddings for text."""

from __future__ import annotations

import torch
from torch import nn


# [task: tabular-regression tabular-classification]
class MLP(nn.Module):
    def __init__(self, n_features: int, n_outputs: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


# [end task]
# [task: image-classification]
class CNN(nn.Module):
    def __init__(self, channels: int, size: int, n_outputs: int, hidden: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(32 * (size // 4) ** 2, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# [end task]
# [task: text-classification]
class TextClassifier(nn.Module):
    """Mean of the token embeddings (padding masked out), then a linear layer."""

    def __init__(self, vocab_size: int, dim: int, n_outputs: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.head = nn.Linear(dim, n_outputs)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens > 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        summed = (self.embedding(tokens) * mask).sum(dim=1)
        return self.head(summed / mask.sum(dim=1).clamp(min=1.0))


# [end task]
def build(preprocess: dict, config: dict) -> nn.Module:
    outputs = preprocess["n_outputs"]
    # [task: image-classification]
    return CNN(*preprocess["input_shape"][:2], outputs, config["model"]["hidden"])
    # [end task]
    # [task: text-classification]
    return TextClassifier(len(preprocess["vocabulary"]) + 2, config["model"]["embedding_dim"], outputs)
    # [end task]
    # [task: tabular-regression tabular-classification]
    return MLP(preprocess["input_shape"][0], outputs, config["model"]["hidden"])
    # [end task]{% endraw %}
