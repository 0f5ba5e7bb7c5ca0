"""Trains the two revisions of the "digits" model that gateway_test serves, and records their
own predictions. Run with Debian's /usr/bin/python3 (python3-xgboost, python3-sklearn).

    train_digits.py OUTDIR
      OUTDIR/rev1/model.json   XGBoost multi:softprob on sklearn's digits (64 features, 10
                               classes), 5 rounds of depth 2
      OUTDIR/rev2/model.json   the same data, 30 rounds of depth 4 (a different model, so an
                               answer tells which revision served it)
      OUTDIR/expected.json     {"x": rows, "rev1": probabilities, "rev2": probabilities,
                                "labels": true labels}
"""
import json
import os
import sys

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_digits

out = sys.argv[1]
X, y = load_digits(return_X_y=True)
X = X.astype(np.float32)
train = xgb.DMatrix(X[:1500], label=y[:1500])
rows = X[1500::60][:4]
expected = {"x": rows.tolist(), "labels": [int(v) for v in y[1500::60][:4]]}
for name, rounds, depth in (("rev1", 5, 2), ("rev2", 30, 4)):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    booster = xgb.train({"objective": "multi:softprob", "num_class": 10, "max_depth": depth, "eta": 0.3,
                         "nthread": 1}, train, num_boost_round=rounds)
    booster.save_model(os.path.join(out, name, "model.json"))
    expected[name] = booster.predict(xgb.DMatrix(rows)).tolist()
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
