"""``results.md`` of the SemCC experiment: the paper's claims first, then every part's table and figure that
the output folder holds. Parts run one at a time (``--part``), so the report is rebuilt from what is there."""

from __future__ import annotations

from pathlib import Path

from .claims import claims_markdown
from .semcc_claims import semcc_claims

__all__ = ["write_results"]

#: (table written by the part, figure, section title); a table with its own heading keeps it
SECTIONS = (("ratios.md", "ratios.png", "Accuracy (%) / PSNR (dB) versus k/n (Figs. 4-11), mean ± std over seeds"),
            ("ablation.md", None, "Tables I-II: SemCC without fine-tuning (w/o FT) or contrastive learning (w/o CL)"),
            (None, "alpha.png", "The semantic/detail trade-off over alpha (Fig. 12)"),
            (None, "robustness.png", "Trained at one SNR, tested across SNR with other downstream models (Figs. 13-14)"),
            (None, "visual.png", "Reconstructions at a small k/n (Fig. 15)"),
            ("semre.md", None, "SemRE's ablation"),
            (None, "training_curves.png", "How each run trained (training.md)"))


def _demoted(markdown: str) -> str:
    """A part's table under this report's sections: its own headings one level down."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.strip().splitlines())


def write_results(out_dir: Path, digital_dir: Path | None = None) -> Path:
    """Write ``out_dir / results.md`` from the records and tables there (the classical link's records in
    ``digital_dir``); returns its path."""
    out_dir = Path(out_dir)
    text = ["# SemCC / SemRE on the embedded Fashion-MNIST", "",
            "Made by `semcom experiment semcc`; each point is the mean over the seeds it ran on, ± their standard "
            "deviation where there are several.", "",
            "## The paper's claims", "",
            "\"Beats\": ahead by more than the larger std over seeds and the test set's resolution (for accuracy, "
            "the binomial standard error of the difference at the test-set sizes); \"close\": "
            "within 1 dB of PSNR or 0.03 of accuracy; \"keeps up\": not behind by more than that.", "",
            claims_markdown(semcc_claims(out_dir, digital_dir)), ""]
    for table, figure, title in SECTIONS:
        body = (out_dir / table).read_text() if table and (out_dir / table).is_file() else ""
        has_figure = figure is not None and (out_dir / figure).is_file()
        if not body and not has_figure:
            continue
        if not body.lstrip().startswith("#"):
            text += [f"## {title}", ""]
        if body:
            text += [_demoted(body), ""]
        if has_figure:
            text += [f"![{figure}]({figure})", ""]
    (out_dir / "results.md").write_text("\n".join(text))
    return out_dir / "results.md"
