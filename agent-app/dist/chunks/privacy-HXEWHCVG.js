import{a}from"./chunk-F23L35EK.js";import"./chunk-NFIF4PRF.js";import"./chunk-MZBGSO33.js";export{a as PrivacyButton};
