"""What the probe observes and the rules read: plain data, free of TensorFlow.

The probe (`tfpcheck.probe`) fills these records and the rules (`tfpcheck.rules`) judge them;
this package depends on neither, so neither depends on the other through it.
"""
