"""Lineage recorded with no user code: the demo pipeline's model traced back through the step
that trained it to the data set the prepare step wrote, and forward to everything built from
that data set."""

import json
import os
import unittest

from skiffenv import SkiffTestCase

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "digits", "pipeline.yaml")


class LineageTest(SkiffTestCase):
    def test_demo_model_traces_back_to_the_prepared_data_set(self):
        wf = self.run_json(DEMO)
        name = wf["metadata"]["name"]
        arts = json.loads(self.skiff("artifacts", "ls", "-o", "json", check=0).stdout)
        models = [a for a in arts if a["name"] == "model"]
        datasets = [a for a in arts if a["name"] == "dataset"]
        self.assertEqual(len(datasets), 1)
        self.assertGreaterEqual(len(models), 1)
        up = json.loads(self.skiff("lineage", "artifact", models[0]["digest"], "-o", "json",
                                   check=0).stdout)
        steps = {e["properties"]["template"]: e for e in up["executions"]}
        self.assertEqual(set(steps), {"train", "prepare"})
        self.assertIn(datasets[0]["digest"], [a["digest"] for a in up["artifacts"]])
        self.assertTrue(all(e["state"] == "COMPLETE" for e in up["executions"]))
        self.assertEqual(steps["train"]["properties"]["workflow"], name)
        # Downstream of the data set: every training run and the evaluation read it.
        down = json.loads(self.skiff("lineage", "artifact", datasets[0]["digest"], "--downstream",
                                     "-o", "json", check=0).stdout)
        templates = sorted(e["properties"]["template"] for e in down["executions"])
        self.assertIn("evaluate", templates)
        self.assertEqual(templates.count("train"), 2)
        # The readable tree names the steps.
        tree = self.skiff("lineage", "artifact", models[0]["digest"], check=0).stdout
        self.assertIn("written by step", tree)
        self.assertIn("(prepare)", tree)
        # The run's context holds the model; the blob comes back byte for byte.
        in_run = json.loads(self.skiff("artifacts", "ls", "--context", "skiff.WorkflowRun/" + name,
                                       "-o", "json", check=0).stdout)
        self.assertIn(models[0]["digest"], [a["digest"] for a in in_run])
        by_digest = json.loads(self.skiff("artifacts", "ls", "--digest", datasets[0]["digest"], "-o", "json",
                                          check=0).stdout)
        self.assertEqual([a["name"] for a in by_digest], ["dataset"])
        out = os.path.join(self.files, "model.tgz")
        self.skiff("artifacts", "get", models[0]["digest"], "-o", out, check=0)
        self.assertEqual(os.path.getsize(out), models[0]["size"])

    def test_unknown_artifact_is_an_error(self):
        p = self.skiff("lineage", "artifact", "sha256:" + "0" * 64)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not found", p.stderr)


if __name__ == "__main__":
    unittest.main()
