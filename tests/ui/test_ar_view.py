"""The autoregressive view shows exactly what the running model computes: its next-token
distributions for the shown context, greedy writing, completions and text marks."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from genstudio.config import default_experiment
from genstudio.ui.views.autoregressive import CHOSEN, DROPPED, OTHER

from .test_main_window import TIMEOUT_MS, paused_view, running_model


def _paused_view(window, qtbot, data: str, **family):
    """A small transformer trained a little on `data`, paused; its view on screen with the paused weights."""
    exp = default_experiment("ar", data)
    exp = replace(exp, family=replace(exp.family, n_layer=1, n_embd=32, ema=0.0, **family))
    view, step = paused_view(window, qtbot, exp, "generate")
    return view, running_model(window, qtbot), step


def _generated(view, qtbot, step, act=None):
    (act or view.generate)()
    qtbot.waitUntil(lambda: view.final is not None and view.shown_step.get("generate") == step, timeout=TIMEOUT_MS)


def test_the_bars_are_the_models_softmax_for_the_shown_context(window, qtbot):
    view, model, step = _paused_view(window, qtbot, "digits")
    _generated(view, qtbot, step)
    view.play_button.setChecked(False)
    tokens = view.tokens[view.focus]
    for position in (0, 9, 40, 63):
        view.show_position(position)
        context = torch.tensor([[model.tok.bos, *tokens[:position]]])
        with torch.no_grad():
            want = torch.softmax(model(context)[0, -1], 0).numpy()
        order, heights = view.shown_bars
        np.testing.assert_allclose(heights, want[order], rtol=1e-4, atol=1e-6)
        assert view.bars.opts["brushes"][list(order).index(tokens[position])] == "#e8730e"  # the drawn token
        assert view.position_label.text() == f"token {position + 1} of 64"
    # the focus image shows the written pixels and nothing after them
    view.show_position(20)
    image = view.focus_panel.image.image
    row, col = divmod(21, 8)
    assert tuple(image[1 + row, 1 + col]) == (40, 60, 110)  # the first unwritten pixel
    level = round(tokens[20] / 16 * 255)
    assert abs(int(image[1 + 20 // 8, 1 + 20 % 8, 0]) - level) <= 1


def test_top_p_bars_are_the_distribution_before_it_with_the_dropped_tokens_grey(window, qtbot, monkeypatch):
    view, model, step = _paused_view(window, qtbot, "digits")
    sent, submit = [], view.explorer.submit
    monkeypatch.setattr(view.explorer, "submit", lambda request: sent.append(request) or submit(request))
    _generated(view, qtbot, step, lambda: view.top_p.setValue(0.5))  # live: a new batch
    assert [r.top_p for r in sent if r.control == "generate"] == [0.5]
    view.play_button.setChecked(False)
    tokens = view.tokens[view.focus]
    dropped = 0
    for position in (0, 9, 40, 63):
        view.show_position(position)
        raw, probs = view.raw[view.focus, position], view.probs[view.focus, position]
        context = torch.tensor([[model.tok.bos, *tokens[:position]]])
        with torch.no_grad():
            np.testing.assert_allclose(raw, torch.softmax(model(context)[0, -1], 0).numpy(), rtol=1e-4, atol=1e-6)
        order, heights = view.shown_bars
        np.testing.assert_array_equal(heights, raw[order])
        kept = probs[order] > 0
        brushes = view.bars.opts["brushes"]
        assert [b in (OTHER, CHOSEN) for b in brushes] == list(kept)
        assert [b == DROPPED for b in brushes] == list(~kept)
        assert brushes[list(order).index(tokens[position])] == CHOSEN
        dropped += int((~kept).sum())
    assert dropped > 0
    view.complete()
    assert sent[-1].control == "complete" and sent[-1].top_p == 0.5


def test_greedy_is_deterministic_and_completion_keeps_the_pixels(window, qtbot):
    view, model, step = _paused_view(window, qtbot, "digits")
    view.temperature.setValue(0.0)  # live: a new batch
    qtbot.waitUntil(lambda: view.final is not None and view.shown_step.get("generate") == step, timeout=TIMEOUT_MS)
    first = view.tokens.copy()
    _generated(view, qtbot, step)  # another seed
    assert np.array_equal(view.tokens, first)
    assert (view.probs.max(2) == 1.0).all()  # all the probability on one token
    # completion: the box is the bottom half; the top half is the held-out image's own pixels
    view.temperature.setValue(1.0)
    view.pages.setCurrentIndex(1)
    view.example.setValue(5)
    qtbot.waitUntil(lambda: view.completion is not None and view.completion["decoded"] is not None
                    and view.shown_step.get("complete") == step and view.complete_status.text().startswith("8"),
                    timeout=TIMEOUT_MS)
    original = window.run.info.dataset.held_out[5]
    assert np.array_equal(view.completion["original"], original)
    mask = view.mask()
    assert mask[4:].all() and not mask[:4].any()
    decoded = view.completion["decoded"]
    kept = np.rint(original * 16) / 16
    assert np.allclose(decoded[:, :, ~mask], kept[:, ~mask])
    assert not np.allclose(decoded[:, :, mask], decoded[:1, :, mask])  # the tries differ where the model writes


def test_the_guidance_control_writes_the_batch_the_model_writes_at_that_scale(window, qtbot):
    """A conditional run trained with label dropout shows guidance on the Write page; a new scale writes
    a new batch, with the tokens and next-token distributions the model computes at that scale."""
    view, model, step = _paused_view(window, qtbot, "digits")
    assert view.guidable and view.guidance.isVisibleTo(view) and view.guidance.value() == model.cfg.guidance
    view.class_picker.setCurrentIndex(view.class_picker.findText(view.classes[3]))
    qtbot.waitUntil(lambda: view.final is not None and view.shown_step.get("generate") == step, timeout=TIMEOUT_MS)
    seed = view.seed
    view.guidance.setValue(2.5)   # live: a new batch
    qtbot.waitUntil(lambda: view.seed == seed + 1 and view.final is not None
                    and view.shown_step.get("generate") == step, timeout=TIMEOUT_MS)
    uniforms = torch.rand(len(view.tokens), model.tok.length, generator=torch.Generator().manual_seed(view.seed))
    steps = list(model.generate(uniforms, labels=torch.full((len(uniforms),), 3), guidance=2.5))
    np.testing.assert_array_equal(view.tokens, torch.stack([s.tokens for s in steps], 1).numpy())
    np.testing.assert_allclose(view.probs, torch.stack([s.probs for s in steps], 1).numpy(), rtol=1e-4, atol=1e-6)


def test_text_marks_prompt_and_baselines(window, qtbot):
    view, model, step = _paused_view(window, qtbot, "names")
    ds = window.run.info.dataset
    view.prompt.setText("ma")
    _generated(view, qtbot, step)
    words = view.final["decoded"]
    assert all(w.startswith("ma") for w in words)
    known = set(ds.words)
    assert list(view.final["in_training"]) == [w in known for w in words]
    view.show_position(view.length - 1)
    text = view.lines.text()
    assert text.count("(new)") == sum(w not in known for w in words)
    assert text.count("(in the training set)") == sum(w in known for w in words)
    # the loss page: nats per character, with the corpus's uniform and bigram lines
    view.pages.setCurrentIndex(2)
    qtbot.waitUntil(lambda: view.shown_step.get("baselines") is not None and bool(view.loss_points.get("held_out")),
                    timeout=TIMEOUT_MS)
    uniform, bigram = (line.value() for line in view.baseline_lines)
    assert abs(uniform - np.log(27)) < 1e-6
    assert 2.0 < bigram < 2.7


def _attention_shown(view, qtbot, step):
    _generated(view, qtbot, step)
    view.pages.setCurrentWidget(view.attention_page)      # asks for the first sample's maps
    qtbot.waitUntil(lambda: view.shown_step.get("attention") == step, timeout=TIMEOUT_MS)
    return view.attention_page


def test_the_attention_page_shows_the_models_own_heads(window, qtbot):
    from genstudio.ui.views.attention import key_weights, weight_picture

    view, model, step = _paused_view(window, qtbot, "digits", n_head=2)
    page = _attention_shown(view, qtbot, step)
    tokens = view.tokens[0]
    with torch.no_grad():
        want = model.attention(torch.from_numpy(tokens))["sequence"]
    np.testing.assert_allclose(page.maps["sequence"], want, atol=1e-5)
    page.head.setCurrentIndex(2)                             # head 2 alone
    for position in (0, 17, 63):
        page.scrub.setValue(position)
        weights = want[0, 1, position, :position + 1]
        assert abs(weights.sum() - 1) < 1e-5
        (picture,) = page.shown_pictures                     # the written pixels carry the weights, the rest none
        expected = weight_picture(key_weights(page.maps, "sequence", 0, 1, position, 8), "sequence", position,
                                  (1, 8, 8), "chw", 8)
        np.testing.assert_allclose(expected.ravel()[:position], weights[1:], atol=1e-6)
        assert not expected.ravel()[position:].any()
        assert tuple(picture[divmod(position, 8)]) == (90, 200, 255)   # the pixel being written
        np.testing.assert_allclose(page.bars.opts["height"], view.probs[0, position], atol=1e-6)
    page.head.setCurrentIndex(0)                             # all heads: one picture each
    assert len(page.shown_pictures) == 2


def test_text_attention_shades_each_character_by_its_weight(window, qtbot):
    view, model, step = _paused_view(window, qtbot, "names")
    page = _attention_shown(view, qtbot, step)
    tokens = view.tokens[0]
    end = int(np.flatnonzero(tokens == 0)[0]) if (tokens == 0).any() else len(tokens) - 1
    assert page.scrub.maximum() == end                      # a line ends at its end token
    page.layer.setCurrentIndex(0)
    page.head.setCurrentIndex(1)
    page.scrub.setValue(min(3, end))
    position = page.scrub.value()
    weights = page.maps["sequence"][0, 0, position, :position + 1]
    (row,) = page.shown_text
    shown = [float(x.split(")")[0].split(",")[-1]) for x in row.split("background:rgba(")[1:]]
    np.testing.assert_allclose(shown, weights / weights.max(), atol=0.006)   # two decimals in the HTML


def test_heads_forming_and_embeddings_are_the_runs_own(window, qtbot):
    from genstudio.engine.attention import attention_shares, pca_2d, probe_maps

    view, model, step = _paused_view(window, qtbot, "names")
    page = view.attention_page
    qtbot.waitUntil(lambda: len(page.probes) >= 1, timeout=TIMEOUT_MS)
    snap = next(s for s in reversed(window.run.snapshots) if s.probe is not None)
    assert page.probes[-1][0] == snap.step
    view.pages.setCurrentWidget(page)
    page.probe_scrub.setValue(page.probe_scrub.maximum())
    page.layer.setCurrentIndex(0)
    page.head.setCurrentIndex(2)
    probe = probe_maps(snap.probe)["sequence"][0, 1]
    shown_step, shown = page.shown_probe
    assert shown_step == snap.step
    np.testing.assert_array_equal(shown, probe)
    xs, ys = page.share_curves["previous"].getData()
    assert xs[-1] == snap.step and abs(ys[-1] - attention_shares(probe)["previous"]) < 1e-9
    view.pages.setCurrentWidget(view.embeddings_page)         # asks for the embeddings
    qtbot.waitUntil(lambda: view.shown_step.get("embeddings") == step, timeout=TIMEOUT_MS)
    vectors = model.token_emb.weight[: model.tok.vocab].detach().numpy()
    emb = view.embeddings_page
    np.testing.assert_allclose(emb.vectors, vectors, atol=1e-6)
    np.testing.assert_allclose(emb.scatter.data["x"], pca_2d(vectors)[:, 0], atol=1e-5)
    a = window.run.info.dataset.alphabet.index("a")
    near = emb.pick(a)
    assert "Nearest to <b>a</b>" in emb.neighbours.text() and len(near) == 5


def test_the_attention_page_follows_a_new_run_with_shorter_samples(window, qtbot):
    view, _, step = _paused_view(window, qtbot, "digits")
    page = _attention_shown(view, qtbot, step)
    page.scrub.setValue(60)                                   # far into an 8x8 digit's 64 tokens
    view, _, step = _paused_view(window, qtbot, "names")      # names are much shorter
    page = _attention_shown(view, qtbot, step)
    assert page.scrub.value() <= page.scrub.maximum() < 60 and page.shown_text
