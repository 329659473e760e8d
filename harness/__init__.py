"""What the tests, the benchmark, the load test and the tuning scripts share, and nothing the product
needs: starting the real servers and talking to them (servers.py, services.py), scripted patients
(patients.py), and reading and scoring the data sets and blind rounds kept under tests/ (nlu_sets.py,
blind_rounds.py, answer_rounds.py). It imports the product; nothing outside tests/ imports tests/.
"""
