"""Trains the small models that serving_test and bench/serving serve, and records their own
predictions for comparison. Run with Debian's /usr/bin/python3 (python3-xgboost, python3-sklearn).

    train_models.py OUTDIR
      OUTDIR/xgboost/model.json   XGBoost multi:softprob on iris (4 features, 3 classes)
      OUTDIR/sklearn/model.joblib scikit-learn LogisticRegression on iris
      OUTDIR/expected.json        {"x": rows, "xgboost": probabilities, "sklearn": labels}
"""
import json
import os
import sys

import joblib
import numpy as np
import xgboost as xgb
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

out = sys.argv[1]
os.makedirs(os.path.join(out, "xgboost"), exist_ok=True)
os.makedirs(os.path.join(out, "sklearn"), exist_ok=True)
X, y = load_iris(return_X_y=True)
X = X.astype(np.float32)

booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3,
                     "nthread": 1}, xgb.DMatrix(X, label=y), num_boost_round=20)
booster.save_model(os.path.join(out, "xgboost", "model.json"))

clf = LogisticRegression(max_iter=1000).fit(X, y)
joblib.dump(clf, os.path.join(out, "sklearn", "model.joblib"))

rows = X[::15][:10]
expected = {
    "x": rows.tolist(),
    "xgboost": booster.predict(xgb.DMatrix(rows)).tolist(),
    "sklearn": [int(v) for v in clf.predict(rows)],
}
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
