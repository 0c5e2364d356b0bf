"""Config: frozen dataclasses validated once, parsed from --set strings, JSON round-trip."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest

from genstudio.config import (
    CONFIG_VERSION,
    FAMILIES,
    FAMILY_CONFIGS,
    ARConfig,
    ConfigError,
    DiffusionConfig,
    Experiment,
    GANConfig,
    VAEConfig,
    default_experiment,
)


@pytest.mark.parametrize("model", FAMILIES)
def test_experiment_json_round_trip(model):
    cls = FAMILY_CONFIGS[model]
    base = default_experiment(model)
    changed = {"lr": 3e-4, "batch_size": 17}
    exp = dataclasses.replace(base, family=dataclasses.replace(base.family, **changed),
                              steps=123, seconds=4.5, seed=7, device="cpu", threads=1)
    text = exp.to_json()
    back = Experiment.from_json(text)
    assert back == exp
    assert isinstance(back.family, cls)
    assert json.loads(text)["version"] == CONFIG_VERSION
    assert back.family.lr == 3e-4 and back.family.batch_size == 17


def test_from_strings_parses_each_field_type():
    cfg = GANConfig.from_strings({"lr": "2e-4", "batch_size": "64", "loss": "wgan-gp", "beta1": "0"})
    assert cfg.lr == 2e-4 and type(cfg.lr) is float
    assert cfg.batch_size == 64 and type(cfg.batch_size) is int
    assert cfg.loss == "wgan-gp"
    assert cfg.beta1 == 0.0 and type(cfg.beta1) is float  # "0" for a float knob is a float
    # untouched knobs keep their defaults
    assert cfg.width == GANConfig().width


def test_from_strings_starts_from_the_base():
    base = VAEConfig(latent_dim=2, likelihood="gaussian")
    cfg = VAEConfig.from_strings({"beta": "4"}, base=base)
    assert (cfg.latent_dim, cfg.likelihood, cfg.beta) == (2, "gaussian", 4.0)


def test_unknown_key_names_the_valid_keys():
    with pytest.raises(ConfigError) as info:
        DiffusionConfig.from_strings({"no_such_knob": "1"})
    message = str(info.value)
    assert "no_such_knob" in message
    for f in dataclasses.fields(DiffusionConfig):
        assert f.name in message


@pytest.mark.parametrize("cls, key, text", [
    (VAEConfig, "width", "abc"),
    (VAEConfig, "width", "3.5"),
    (GANConfig, "lr", "fast"),
    (ARConfig, "n_head", ""),
])
def test_from_strings_wrong_type(cls, key, text):
    with pytest.raises(ConfigError, match=key):
        cls.from_strings({key: text})


@pytest.mark.parametrize("cls, values", [
    (VAEConfig, {"width": "32"}),      # a string where an int belongs
    (VAEConfig, {"width": 32.0}),      # a float where an int belongs
    (VAEConfig, {"width": True}),      # a bool is not an int knob
    (GANConfig, {"lr": "0.1"}),
    (GANConfig, {"loss": 1}),
])
def test_constructor_wrong_type(cls, values):
    with pytest.raises(ConfigError):
        cls(**values)


def test_int_for_float_knob_becomes_float():
    cfg = GANConfig(lr=1)
    assert cfg.lr == 1.0 and type(cfg.lr) is float


@pytest.mark.parametrize("cls, key, value", [
    (VAEConfig, "width", 3),             # below low
    (VAEConfig, "width", 5000),          # above high
    (GANConfig, "lr", 2.0),
    (GANConfig, "lr", 0.0),
    (GANConfig, "loss", "hinge"),        # not one of the choices
    (DiffusionConfig, "sampler", "euler"),
    (DiffusionConfig, "timesteps", 1),
    (ARConfig, "dropout", 0.95),
    (GANConfig, "lr", math.inf),
    (GANConfig, "lr", math.nan),         # NaN compares False with both bounds; it must still be refused
    (VAEConfig, "beta", math.nan),
])
def test_out_of_range(cls, key, value):
    with pytest.raises(ConfigError, match=key):
        cls(**{key: value})


def test_out_of_range_from_strings():
    with pytest.raises(ConfigError, match=">= 1"):
        VAEConfig.from_strings({"batch_size": "0"})


def test_ar_embedding_must_divide_by_heads():
    with pytest.raises(ConfigError, match="divisible"):
        ARConfig(n_embd=30, n_head=4)
    assert ARConfig(n_embd=32, n_head=4).n_embd == 32


def test_newer_config_version_is_refused():
    d = default_experiment("vae").to_dict()
    d["version"] = CONFIG_VERSION + 1
    with pytest.raises(ConfigError, match="newer"):
        Experiment.from_dict(d)


def test_malformed_config_is_a_config_error():
    d = default_experiment("vae").to_dict()
    d["family"]["no_such_knob"] = 1
    with pytest.raises(ConfigError):
        Experiment.from_dict(d)
    d = default_experiment("vae").to_dict()
    del d["family"]
    with pytest.raises(ConfigError):
        Experiment.from_dict(d)


@pytest.mark.parametrize("overrides", [
    {"model": "flow"},
    {"data": "nope"},
    {"steps": 0},
    {"steps": -3},
    {"seconds": 0.0},
    {"seconds": math.nan},
    {"device": "tpu"},
    {"threads": -1},
])
def test_experiment_validation(overrides):
    good = default_experiment("vae", device="cpu")
    with pytest.raises(ConfigError):
        dataclasses.replace(good, **overrides)


def test_family_config_must_match_model():
    with pytest.raises(ConfigError, match="does not match"):
        Experiment(model="gan", data="ring8", family=VAEConfig())


def test_default_experiment_applies_presets():
    exp = default_experiment("vae", "ring8")
    assert exp.family.latent_dim == 2 and exp.family.likelihood == "gaussian"
    assert default_experiment("vae").data == "digits"
    with pytest.raises(ConfigError, match="choose one of"):
        default_experiment("flow")


def test_configs_are_frozen():
    cfg = VAEConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.width = 8
