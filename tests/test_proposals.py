"""Issue 16 §1: seed 004's eq. 4 as a pure seeded function (`propose`) and `jupyter dsi propose`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare

import jupyterlab_dsi as dsi
from jupyterlab_dsi.cli import EXIT_USAGE, main
from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.proposals import ProposalError, propose, spacing

P_MIN = 0.01


def grid(sigma2=None) -> pd.DataFrame:
    """A 5 x 4 grid over a in 0..4 (spacing 1) and b in 0..0.6 (spacing 0.2)."""
    a, b = np.meshgrid(np.arange(5.0), np.arange(4) * 0.2, indexing="ij")
    frame = pd.DataFrame({"a": a.ravel(), "b": b.ravel()})
    frame["sigma2"] = np.arange(1, 21, dtype=float) if sigma2 is None else sigma2
    return frame


WIDE = {"a": (-100.0, 100.0), "b": (-100.0, 100.0)}


def test_share_of_draws_per_study_row_matches_the_weights():
    study = grid()
    n = 100_000
    out = propose(study, n, seed=7, bounds=WIDE)
    counts = np.bincount(out["component"], minlength=len(study))
    expected = study["sigma2"].to_numpy() / study["sigma2"].sum() * n
    assert chisquare(counts, expected).pvalue > P_MIN
    assert len(out) == n and list(out.columns) == ["a", "b", "proposal_id", "component"]


def test_uniform_sigma2_gives_a_uniform_allocation():
    study = grid(np.full(20, 0.3))
    out = propose(study, 100_000, seed=11, bounds=WIDE)
    counts = np.bincount(out["component"], minlength=20)
    assert chisquare(counts).pvalue > P_MIN


def test_prior_column_multiplies_the_weights():
    study = grid()
    study["prior"] = np.r_[np.zeros(10), np.ones(10)]
    out = propose(study, 50_000, seed=3, bounds=WIDE, prior_column="prior")
    counts = np.bincount(out["component"], minlength=20)
    assert counts[:10].sum() == 0
    w = study["sigma2"].to_numpy()[10:]
    assert chisquare(counts[10:], w / w.sum() * 50_000).pvalue > P_MIN
    assert "prior" not in out.columns


def test_alpha_mixes_sigma2_and_entropy_both_normalised():
    study = grid()
    study["entropy"] = np.r_[np.ones(1) * 5.0, np.zeros(19)]  # all entropy on row 0
    n = 100_000
    out = propose(study, n, seed=5, bounds=WIDE, alpha=0.25, entropy_column="entropy")
    s = study["sigma2"].to_numpy() / study["sigma2"].sum()
    e = study["entropy"].to_numpy() / study["entropy"].sum()
    w = 0.25 * s + 0.75 * e
    counts = np.bincount(out["component"], minlength=20)
    assert chisquare(counts, w * n).pvalue > P_MIN
    assert "entropy" not in out.columns
    # alpha = 0: entropy alone; alpha = 1: eq. 4, the entropy column ignored
    only_e = propose(study, 1000, seed=5, bounds=WIDE, alpha=0.0, entropy_column="entropy")
    assert set(only_e["component"]) == {0}
    plain = propose(grid(), 1000, seed=5, bounds=WIDE)
    assert propose(study, 1000, seed=5, bounds=WIDE, alpha=1.0,
                   entropy_column="entropy").equals(plain)


def test_every_draw_inside_the_bounds_default_and_given():
    study = grid()
    out = propose(study, 20_000, seed=1)  # default box: the study set's range
    assert out["a"].between(0, 4).all() and out["b"].between(0, 0.6).all()
    out = propose(study, 20_000, seed=1, bounds={"a": (1.5, 2.5)}, tau={"a": 0.2, "b": 0.5})
    assert out["a"].between(1.5, 2.5).all() and out["b"].between(0, 0.6).all()
    # at tau 0.2 only rows with a = 1, 2, 3 reach 1.5..2.5 (a = 0 or 4 is 7.5 tau away)
    assert set(out["component"] // 4) == {1, 2, 3}


def test_tau_defaults_to_the_spacing_and_zero_reproduces_the_study_points():
    assert spacing([0.0, 2.0, 1.0, 1.0]) == 1.0 and spacing([3.0, 3.0]) == 0.0
    study = grid()
    out = propose(study, 2000, seed=2, tau={"a": 0.0, "b": 0.0})
    points = study[["a", "b"]].to_numpy()[out["component"]]
    assert np.array_equal(out[["a", "b"]].to_numpy(), points)
    # default tau: offsets spread like the spacing (1 for a, 0.2 for b), with wide bounds
    out = propose(study, 20_000, seed=2, bounds=WIDE)
    offsets = out[["a", "b"]].to_numpy() - study[["a", "b"]].to_numpy()[out["component"]]
    assert np.allclose(offsets.std(axis=0), [1.0, 0.2], rtol=0.05)
    # a parameter with one distinct value is never spread
    one = grid().assign(c=7.0)
    assert (propose(one, 500, seed=2)["c"] == 7.0).all()


def test_categorical_parameters_are_copied_never_off_level():
    study = grid()
    study["kind"] = ["cubic", "hex", "tetra", "ortho"] * 5
    study["level"] = [1, 2] * 10  # numeric, named categorical
    out = propose(study, 5000, seed=4, categorical=["level"])
    assert list(out["kind"]) == list(study["kind"].to_numpy()[out["component"]])
    assert set(out["level"]) <= {1, 2}
    assert list(out["level"]) == list(study["level"].to_numpy()[out["component"]])
    assert set(out["kind"]) <= {"cubic", "hex", "tetra", "ortho"}


def test_same_seed_same_bytes_different_seed_differs(tmp_path, capsys):
    study = grid()
    path = tmp_path / "study.csv"
    study.to_csv(path, index=False)
    outs = []
    for i, seed in enumerate(["9", "9", "10"]):
        target = tmp_path / f"p{i}.csv"
        assert main(["propose", "--study", str(path), "--n", "300", "--seed", seed,
                     "--tau", "a=0.5", "-o", str(target)]) == 0
        outs.append(target.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]
    capsys.readouterr()
    a = propose(study, 300, seed=9, tau={"a": 0.5})
    assert a.equals(propose(study, 300, seed=9, tau={"a": 0.5}))
    assert a["proposal_id"].iloc[0] == "p9-00000" and a["proposal_id"].is_unique
    # the file is the frame, read back
    back = pd.read_csv(tmp_path / "p0.csv")
    assert np.array_equal(back[["a", "b"]].to_numpy(), a[["a", "b"]].to_numpy())
    assert list(back["component"]) == list(a["component"])


def test_cli_json_and_stdout(tmp_path, capsys):
    path = tmp_path / "study.csv"
    grid().to_csv(path, index=False)
    assert main(["propose", "--study", str(path), "--n", "3", "--seed", "0", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["proposal_id"] for r in records] == ["p0-00000", "p0-00001", "p0-00002"]
    assert set(records[0]) == {"a", "b", "proposal_id", "component"}


def test_python_api_is_exposed_lazily():
    assert dsi.propose is propose
    assert "propose" in dir(dsi)
    assert issubclass(ProposalError, DsiError)


def test_nearly_empty_box_is_one_clear_error():
    study = grid()
    # a's box is 0.001 wide around a = 2 and tau is 10: about 1 draw in 25,000 lands inside
    with pytest.raises(ProposalError, match=r"nearly empty for a(, b)?: \d+ of 100 draws still outside "
                       r"after 20 redraws; widen --bounds or lower --tau"):
        propose(study, 100, seed=0, bounds={"a": (2.0, 2.001)}, tau={"a": 10.0}, max_redraws=20)


def _bad_inputs():
    g = grid()
    neg = grid(); neg.loc[3, "sigma2"] = -1.0
    nan = grid(); nan.loc[2, "sigma2"] = np.nan
    zero = grid(np.zeros(20))
    ent = grid().assign(entropy=1.0)
    pri = grid().assign(prior=1.0)
    # (frame, cli args, python kwargs, message)
    return [
        (g.drop(columns="sigma2"), [], {}, "no 'sigma2' column"),
        (neg, [], {}, "negative at study row 3"),
        (nan, [], {}, "NaN or infinite at study row 2"),
        (zero, [], {}, "zero at every study row"),
        (g, ["--tau", "z=1"], {"tau": {"z": 1.0}}, "tau for 'z'"),
        (g, ["--tau", "a=-1"], {"tau": {"a": -1.0}}, "tau for 'a' must be"),
        (g, ["--bounds", "z=0:1"], {"bounds": {"z": (0, 1)}}, "bounds for 'z'"),
        (g, ["--bounds", "a=10:20"], {"bounds": {"a": (10, 20)}}, "exclude every point"),
        (g, ["--bounds", "a=3:1"], {"bounds": {"a": (3, 1)}}, "LO <= HI"),
        (g, ["--n", "0"], {"n": 0}, "n must be"),
        (g, ["--alpha", "1.5", "--entropy-column", "entropy"],
         {"alpha": 1.5, "entropy_column": "entropy"}, "alpha must be in"),
        (g, ["--alpha", "-0.1", "--entropy-column", "entropy"],
         {"alpha": -0.1, "entropy_column": "entropy"}, "alpha must be in"),
        (ent, ["--alpha", "0.5"], {"alpha": 0.5}, "give entropy_column"),
        (g, ["--alpha", "0.5", "--entropy-column", "entropy"],
         {"alpha": 0.5, "entropy_column": "entropy"}, "no entropy column 'entropy'"),
        (g, ["--entropy-column", "nope"], {"entropy_column": "nope"}, "no entropy column 'nope'"),
        (pri, ["--prior-column", "nope"], {"prior_column": "nope"}, "no prior column 'nope'"),
        (g, ["--seed", "-1"], {"seed": -1}, "seed must be"),
    ]


@pytest.mark.parametrize("frame,cli_args,kwargs,message", _bad_inputs())
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, frame, cli_args,
                                                           kwargs, message):
    call = {"n": 10, "seed": 1, **kwargs}
    with pytest.raises(ProposalError, match=message):
        propose(frame, **call)
    path = tmp_path / "study.csv"
    frame.to_csv(path, index=False)
    target = tmp_path / "out.csv"
    args = ["propose", "--study", str(path), "--n", "10", "--seed", "1", *cli_args,
            "-o", str(target)]
    assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jupyter dsi propose: error: ") and message in err
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["study.csv"]


@pytest.mark.parametrize("args,message", [
    (["--tau", "a"], "--tau takes NAME=VALUE"),
    (["--tau", "a=x"], "must be a number"),
    (["--bounds", "a=1"], "takes LO:HI"),
    (["--study", "missing.csv"], "no such study file"),
])
def test_bad_cli_options_are_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    grid().to_csv("study.csv", index=False)
    assert main(["propose", "--study", "study.csv", "--n", "5", "--seed", "0", *args]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
