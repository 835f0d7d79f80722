#!/usr/bin/env bash
# Retrain and export the shipped DeepJSCC bundle (Fashion-MNIST, k/n = 1/12) with the project's own commands.
set -euo pipefail
cd "$(dirname "$0")/.."
SEMCOM=${SEMCOM:-.venv/bin/semcom}
$SEMCOM train --config configs/deepjscc_fmnist_1-12.yaml --out runs/deepjscc-fmnist-1_12
$SEMCOM export --run runs/deepjscc-fmnist-1_12 --out bundles/deepjscc-fmnist-1_12
