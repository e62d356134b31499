"""The original PyTorch 101 XOR tutorial loop, written the tutorial's way.

pandas reads the truth table, a Dataset and a DataLoader feed one row at a
time, and a 2-3-2 network (ReLU hidden layer, sigmoid outputs) trains with
MSE and Adam (lr 0.001, coupled weight decay 0.0001) for 10 000 epochs. It
prints nothing, so the benchmark times only the work. This is the baseline
that benchmarks/bench_train.py compares ``xornet train`` against.

Usage: python benchmarks/tutorial_xor.py [EPOCHS]
"""

import sys
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

CSV = Path(__file__).resolve().parents[1] / "src" / "xornet" / "data" / "xor.csv"


class XorDataset(Dataset):
    def __init__(self, path: Path) -> None:
        frame = pd.read_csv(path)
        self.inputs = torch.tensor(frame[["IN1", "IN2"]].values, dtype=torch.float32)
        self.targets = torch.tensor(frame[["OUT1", "OUT2"]].values, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.targets[index]


class XorNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, 3)
        self.relu = nn.ReLU()
        self.output = nn.Linear(3, 2)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sigmoid(self.output(self.relu(self.hidden(x))))


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    loader = DataLoader(XorDataset(CSV), batch_size=1, shuffle=False)
    model = XorNet()
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, weight_decay=0.0001)
    for _ in range(epochs):
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()


if __name__ == "__main__":
    main()
