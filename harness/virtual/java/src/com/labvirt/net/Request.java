package com.labvirt.net;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One HTTP request an app sends, and how its SDK connects. */
public final class Request {
    public String method = "POST";
    public String url;
    public final Map<String, String> headers = new LinkedHashMap<>();
    public byte[] body;
    public boolean ignoreProxy;
    public boolean trustUserCas;
    public final List<String> pins = new ArrayList<>();
}
