"""Download the real data sets (trainPart1.zip, MNIST), verified, into the folders the catalog reads.

Used only by the ``playing-with-mnist download`` command (:mod:`.cli`): nothing else in the
project touches the network. :mod:`.transfer` moves one file over HTTP(S); :mod:`.targets`
says what is fetched, from where, and how it is verified.
"""
