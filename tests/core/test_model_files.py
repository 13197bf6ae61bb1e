"""Model files: your own model, its loss and data from a .py file; every way one can fail is
refused with the file, the line and the reason."""

import textwrap

import pytest

torch = pytest.importorskip("torch")

from landscape_gui.pytorch.modelfile import ModelFileError, load_model_file  # noqa: E402

GOOD = """
import torch

torch.manual_seed(0)
_net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
loss_fn = torch.nn.CrossEntropyLoss()
_x = torch.randn(30, 3)
_y = (_x[:, 0] > 0).long()
checkpoints = [{k: v + 0.01 * i for k, v in _net.state_dict().items()} for i in range(3)]
lr = 0.1


def model():
    return _net


def batches():
    return [(_x[:15], _y[:15]), (_x[15:], _y[15:])]
"""


def write(tmp_path, text, name="m.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_a_good_model_file(tmp_path):
    spec = load_model_file(write(tmp_path, GOOD))
    assert isinstance(spec.model, torch.nn.Module) and not spec.model.training
    assert len(spec.batches) == 2 and len(spec.checkpoints) == 3 and spec.lr == 0.1
    with torch.no_grad():
        want = sum(float(spec.loss_fn(spec.model(x), y)) * len(y) for x, y in spec.batches) / 30
    assert spec.loss == pytest.approx(want)
    assert "Sequential, 26 parameters; 2 batches, 30 samples" in spec.describe()


def test_the_example_model_file_opens():
    from pathlib import Path

    import landscape_gui

    path = Path(landscape_gui.__file__).parent / "resources" / "models" / "two_moons.py"
    spec = load_model_file(path)
    assert len(spec.checkpoints) == 10 and spec.loss < 0.1


BAD = {
    "syntax": ("x = 1\ndef model(:\n    pass\n", r"m\.py, line 2: syntax error"),
    "import": ("import torch\nx = 1\nraise RuntimeError('no data here')\n",
               r"m\.py, line 3: importing it raised RuntimeError: no data here"),
    "missing": ("import torch\nloss_fn = torch.nn.MSELoss()\ndef model():\n    return torch.nn.Linear(1, 1)\n",
                r"m\.py: defines no batches"),
    "raises": (GOOD.replace("def model():\n    return _net", "def model():\n    return _nett"),
               r"m\.py, line 14: model\(\) raised NameError"),
    "type": (GOOD.replace("def model():\n    return _net", "def model():\n    return 'a net'"),
             r"m\.py, line 13: model\(\) returned str, not a torch.nn.Module"),
    "batches": (GOOD.replace("return [(_x[:15], _y[:15]), (_x[15:], _y[15:])]", "return [_x]"),
                r"m\.py, line 17: batches\(\) yielded Tensor, not \(inputs, targets\)"),
    "empty": (GOOD.replace("return [(_x[:15], _y[:15]), (_x[15:], _y[15:])]", "return []"),
              r"m\.py, line 17: batches\(\) yielded no data"),
    "shapes": (GOOD.replace("_x = torch.randn(30, 3)", "_x = torch.randn(30, 5)"),
               r"m\.py: the model on the first batch raised RuntimeError"),
    "loss": (GOOD.replace("loss_fn = torch.nn.CrossEntropyLoss()",
                          "def loss_fn(out, y):\n    return torch.nn.functional.cross_entropy(out, y, reduction='none')"),
             r"m\.py, line 6: loss_fn returned Tensor, not a single number"),
    "checkpoint": (GOOD.replace("checkpoints = [", "checkpoints = [{'bad': torch.zeros(1)}] + ["),
                   r"m\.py: checkpoints\[0\]: checkpoint: does not fit the model: missing 0.weight"),
    "exit": ("import sys\nsys.exit(3)\n", r"m\.py, line 2: the file called exit \(3\)"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_model_files_say_which_line_and_why(tmp_path, case):
    text, message = BAD[case]
    with pytest.raises(ModelFileError, match=message):
        load_model_file(write(tmp_path, text))


def test_not_a_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="nope.py: no such file"):
        load_model_file(tmp_path / "nope.py")
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(ModelFileError, match="a model file is a Python file"):
        load_model_file(tmp_path / "data.csv")
