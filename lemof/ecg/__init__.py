"""ECG reading and measurement: WFDB records of any rate, lead set and length (``record``) and the
measurements a cardiologist reads from them — rate, rhythm, intervals, ST, axis, quality
(``measure``). A layer just above ``data`` and below ``models``; neurokit2 is imported only here."""
