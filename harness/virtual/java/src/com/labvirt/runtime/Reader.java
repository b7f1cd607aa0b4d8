package com.labvirt.runtime;

/** Implemented by each SDK class: reads one data type through the Android APIs. */
public interface Reader {
    String read(String what) throws Exception;
}
