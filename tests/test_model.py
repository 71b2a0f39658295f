"""The ResNet matches the seed's summary table layer by layer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from playing_with_mnist.models import ResNetConfig, build_model, layer_summary
from playing_with_mnist.models.resnet import BasicBlock, average_down

SEED_TABLE = Path(__file__).parent / "data" / "seed_summary.txt"


def seed_rows() -> list[tuple[str, tuple[int, ...], int]]:
    rows = []
    for line in SEED_TABLE.read_text().splitlines():
        match = re.match(r"\s*(\w+-\d+)\s+\[([-\d, ]+)\]\s+([\d,]+)\s*$", line)
        if match:
            shape = tuple(int(v) for v in match.group(2).split(","))
            rows.append((match.group(1), shape, int(match.group(3).replace(",", ""))))
    return rows


@pytest.mark.parametrize("options", [{"downsample": "stride"}, {"downsample": "pool"}, {"drop_path": 0.2, "zero_init_residual": True}])
def test_summary_matches_seed_table_layer_by_layer(options: dict) -> None:
    expected = seed_rows()
    assert len(expected) == 38
    model = build_model(ResNetConfig(num_classes=62, **options))
    actual = [(row.name, row.output_shape, row.params) for row in layer_summary(model, (1, 32, 32))]
    assert actual == expected
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 9_789_822


@pytest.mark.parametrize(("downsample", "reads_every_position"), [("stride", False), ("pool", True)])
def test_pooled_downsampling_reads_every_position_strided_skips_some(downsample: str, reads_every_position: bool) -> None:
    torch.manual_seed(0)
    block = build_model(ResNetConfig(num_classes=62, downsample=downsample)).layers[3]  # 256 -> 512, stride 6
    features = torch.randn(2, 256, 32, 32, requires_grad=True)
    out = block(features)
    assert out.shape == (2, 512, 6, 6)
    out.sum().backward()
    touched = features.grad.abs().sum(dim=(0, 1)) > 0
    assert bool(touched.all()) is reads_every_position
    if not reads_every_position:
        # stride 6, 3x3 kernel, padding 1: rows and columns 2 to 4 fall between two kernels
        assert not touched[2:5, 2:5].any()


@pytest.mark.parametrize(("side", "stride"), [(32, 6), (32, 2), (33, 4), (7, 3)])
def test_pooled_downsampling_in_an_onnx_export_averages_the_same_windows(side: int, stride: int, monkeypatch: pytest.MonkeyPatch) -> None:
    features = torch.randn(2, 3, side, side)
    pooled = average_down(features, stride)
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)  # ONNX has no adaptive pooling to 32 -> 6
    assert torch.allclose(average_down(features, stride), pooled, atol=1e-6)


def test_a_config_saved_before_downsample_existed_rebuilds_the_strided_model() -> None:
    plain = ResNetConfig(num_classes=7).to_dict()
    del plain["downsample"]
    assert ResNetConfig.from_dict(plain).downsample == "stride"


def test_a_config_with_a_setting_this_version_lacks_names_it() -> None:
    plain = {**ResNetConfig(num_classes=7).to_dict(), "a_later_option": True}
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) model_config.a_later_option"):
        ResNetConfig.from_dict(plain)


def test_trainable_parameter_count_is_the_seeds() -> None:
    model = build_model(ResNetConfig(num_classes=62))
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 9_789_822
    total = re.search(r"Trainable params: ([\d,]+)", SEED_TABLE.read_text()).group(1)
    assert int(total.replace(",", "")) == 9_789_822


def test_class_count_comes_from_the_config() -> None:
    model = build_model(ResNetConfig(num_classes=10))
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 10)


def test_config_round_trips_through_plain_types() -> None:
    config = ResNetConfig(num_classes=7, dropout=0.5)
    plain = config.to_dict()
    assert all(not isinstance(v, tuple) for v in plain.values())
    assert ResNetConfig.from_dict(plain) == config


@pytest.mark.parametrize("bad", [{"num_classes": 1}, {"num_classes": 5, "dropout": 1.0}, {"num_classes": 5, "strides": (1, 1)}, {"num_classes": 5, "downsample": "max"},
                                 {"num_classes": 5, "drop_path": 1.0}, {"num_classes": 5, "drop_path": -0.1}, {"num_classes": 5, "drop_path": "0.1"},
                                 {"num_classes": 5, "zero_init_residual": "yes"}])
def test_invalid_configs_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        ResNetConfig(**bad)


def test_stochastic_depth_skips_whole_residual_branches_in_training_only() -> None:
    torch.manual_seed(0)
    block = BasicBlock(8, 8, drop_path=0.5)
    features = torch.randn(64, 8, 6, 6)
    block.eval()
    with torch.no_grad():
        residual = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(features)))))
        assert torch.allclose(block(features), torch.relu(features + residual), atol=1e-6)
        block.train()
        block.bn1.eval(), block.bn2.eval()  # the batch statistics aside, so that only the skipping varies
        out = block(features)
    skipped = torch.tensor([torch.allclose(o, torch.relu(f), atol=1e-6) for o, f in zip(out, features)])
    kept = torch.tensor([torch.allclose(o, torch.relu(f + r / 0.5), atol=1e-5) for o, f, r in zip(out, features, residual)])
    assert bool((skipped ^ kept).all()), "each image either skips the branch or keeps it, scaled by 1 / (1 - p)"
    assert 16 <= int(skipped.sum()) <= 48


def test_drop_path_grows_over_the_blocks() -> None:
    model = build_model(ResNetConfig(num_classes=62, drop_path=0.2))
    assert [round(block.drop_path, 6) for block in model.layers] == [0.04, 0.08, 0.12, 0.16, 0.2]


def test_zero_init_residual_starts_every_block_as_its_shortcut() -> None:
    torch.manual_seed(0)
    model = build_model(ResNetConfig(num_classes=10, zero_init_residual=True)).eval()
    assert all(float(block.bn2.weight.detach().abs().sum()) == 0 for block in model.layers)
    assert all(float(block.bn1.weight.detach().abs().sum()) > 0 for block in model.layers), "only the last BatchNorm of a branch"
    features = torch.randn(2, 64, 8, 8)
    identity_block = model.layers[0]  # 64 -> 64, stride 1: the shortcut is the identity
    with torch.no_grad():
        assert torch.equal(identity_block(features), torch.relu(features))
    default = build_model(ResNetConfig(num_classes=10))
    assert all(float(block.bn2.weight.detach().min()) == 1 for block in default.layers)
