import ferrotune as ft


def test_random_study_finds_a_minimum():
    study = ft.Study(ft.RandomSearch({"x": ft.Float(-2, 2)}, seed=0))
    study.optimize(lambda t: (t.params["x"] - 1) ** 2, n_trials=100)
    assert len(study.trials) == 100
    assert abs(study.best_params["x"] - 1) < 0.1
    assert study.best_value == min(t.value for t in study.trials)
