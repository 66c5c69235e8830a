"""The demo world generator (Kecamatan Kertapati, Kota Palembang) with a hidden ground truth.

`generate_demo` draws an organisation, its employees and a few years of history from a
hidden response model (`truth`): per-course true effects that differ from popularity,
persistent person traits that drive drop-out by learning mode, mentor quality, and latent
competency levels that grow with completed courses and mentoring. Assessments are noisy
measurements of those latent levels. `write_demo` writes the dataset in the contract form
and the truth to a separate folder that models never read, so an evaluator can score
recommendations against what would really happen.

Modules: `catalog` (hand-written reference data), `reference` (contract reference tables, id
indexes), `people` (units, employees, traits), `courses` (the drawn course catalogue),
`learning` (enrollments, completions, assessments), `mentoring`, `history` (the quarter loop),
`tables` (contract and truth frames), `arrays` (vectorised helpers), `truth` (the hidden
response model evaluators score with), `generate` (`generate_demo`, `write_demo`), `cli`.
Uses `features` only.
"""

from demo_data.generate import (
    DEFAULT_COURSES,
    DEFAULT_UNTIL,
    DemoDataset,
    generate_demo,
    write_demo,
)

__all__ = ["DEFAULT_COURSES", "DEFAULT_UNTIL", "DemoDataset", "generate_demo", "write_demo"]
