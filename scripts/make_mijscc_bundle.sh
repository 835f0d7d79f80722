#!/usr/bin/env bash
# Train (through the experiment's runs) and export the shipped 8-bit A-MIJSCC bundle for Fashion-MNIST:
# MIJSCC 8-bit for 8 epochs, then A-MIJSCC (eta = 2, attention) fine-tuned from it for 4 epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
SEMCOM=${SEMCOM:-.venv/bin/semcom}
$SEMCOM experiment mijscc --spec configs/mijscc/fmnist/experiment.yaml --runs runs/mijscc-fmnist --out results/mijscc-fmnist
$SEMCOM export --run runs/mijscc-fmnist/a-eta2 --out bundles/a-mijscc-fmnist-8bit
