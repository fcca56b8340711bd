#!/usr/bin/env bash
# Falls on Nagoya FIR 16x16, through the command line only (the route a user takes):
#   1. train on 20170203 + 20170206 (20170209 held out), with a "none" class for unannotated time;
#   2. choose the alert setting on the two training days alone (leave one day out: a model trained on one
#      day streams the other), for at most one false alarm per hour; written into the model as alerts.json;
#   3. replay every recording of 20170209 as live streams with that setting, beside the ceiling baseline.
#
# Run:   bash benchmarks/nagoya_alerts_route.sh           (about 10 minutes on one core: three trainings)
# Env:   DATA (default ../shared/data/nagoya-fir16), OUT (runs/nagoya-alerts), ACTLINE (actline),
#        REPORT_DAY (20170209), TRAIN_SET (extra training flags, e.g. "--set epochs=1" for a quick look),
#        TRADE_OFF (--max-false-alarms-per-hour 1).
set -euo pipefail
DATA=${DATA:-../shared/data/nagoya-fir16}
OUT=${OUT:-runs/nagoya-alerts}
ACTLINE=${ACTLINE:-actline}
REPORT_DAY=${REPORT_DAY:-20170209}
TRAIN_SET=${TRAIN_SET:-}
TRADE_OFF=${TRADE_OFF:---max-false-alarms-per-hour 1}
mkdir -p "$OUT"

# shellcheck disable=SC2086  # ACTLINE, TRAIN_SET and TRADE_OFF are words
$ACTLINE train --data "$DATA" --out "$OUT/train" --split holdout --holdout "$REPORT_DAY" \
    --set background_class=none $TRAIN_SET --overwrite --quiet
# shellcheck disable=SC2086
$ACTLINE alerts choose "$OUT/train/model" --data "$DATA" --group-by location $TRADE_OFF --out "$OUT/folds" --quiet \
    | tee "$OUT/choose.txt"
# shellcheck disable=SC2086
$ACTLINE evaluate-stream "$OUT/train/model" --data "$DATA" --group "$REPORT_DAY" --collect "$OUT/review" \
    --plot "$OUT/timeline.png" --quiet | tee "$OUT/report.txt"
